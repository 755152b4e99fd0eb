"""Issue 5's acceptance, in Chromium: a photo's consented location becomes a geotag in one
click, the geotag is linked to the proposed nearest mine site and to a trader, and both the
map and the supply-chain graph show it.

A source sends the photo through the JavaScript intake, keeping its place. The investigator
works the casework pages as a person would: buttons, links, labelled fields.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import BrowserContext, expect

from casework.models import Actor, ActorKind, MineSite
from filon.db import current_hour, transaction
from filon.instance import Instance
from tests.browser.evidence import payload, photo_with_location
from tests.browser.pages import Source
from tests.browser.test_casework_flow import Investigator
from tests.conftest import DeskSetup, StaffAccount

pytestmark = pytest.mark.browser

REPORT = "Les sacs de cassitérite partent de Bisie par la route de Goma chaque mardi."
SITE = "Bisie Ridge washing site"  # about 3 km from where the photo was taken
TRADER = "Maison Étain Goma"


def add_registers(instance: Instance) -> None:
    """Sites near and far from the photo, the trader, and a comptoir that is not chosen."""
    hour = current_hour()
    with transaction(instance.sessions) as session:
        session.add_all(
            [
                MineSite(
                    dataset="test",
                    external_id="BIS-1",
                    name=SITE,
                    latitude=-1.700,
                    longitude=29.240,
                    minerals=["cassiterite"],
                    updated_hour=hour,
                ),
                MineSite(
                    dataset="test",
                    external_id="FAR-1",
                    name="Walikale far site",
                    latitude=-1.42,
                    longitude=28.05,
                    updated_hour=hour,
                ),
                Actor(kind=ActorKind.TRADER, name=TRADER, country="CD", updated_hour=hour),
                Actor(kind=ActorKind.COMPTOIR, name="Comptoir Étain du Lac", updated_hour=hour),
            ]
        )


def test_a_consented_location_becomes_a_geotag_linked_to_a_site_and_a_trader(
    source: Source,
    staff_context: BrowserContext,
    instance: Instance,
    desk: DeskSetup,
    investigator: StaffAccount,
) -> None:
    add_registers(instance)
    sent = source.submit_report(
        REPORT, files=[payload("bisie.jpg", "image/jpeg", photo_with_location())], keep_photos=[0]
    )
    staff = Investigator(staff_context.new_page(), investigator)
    page = staff.page
    staff.sign_in()
    staff.open_submission(sent.receipt)

    # One click: the consented location becomes a geotag, and the nearest sites are proposed.
    page.get_by_role("button", name=re.compile(r"Make a geotag from this location")).click()
    geotag = page.locator("section.geotag").first
    expect(geotag.locator("dd.method")).to_have_text("consented")
    proposed = geotag.locator("ol.nearest-sites li")
    expect(proposed).to_have_count(1)  # the far site is out of the radius
    expect(proposed.first).to_contain_text(SITE)
    expect(proposed.first.locator(".distance")).to_contain_text(re.compile(r"^[23]\.\d km$"))

    # Linked to that site and to a trader, with the photo as the evidence, in one form.
    proposed.first.get_by_role("link", name="Link this site to a supply chain").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New chain link")
    expect(page.get_by_role("main")).to_contain_text(SITE)
    page.get_by_label("Find an actor by name").fill("Étain")
    page.get_by_label("Kind").select_option("trader")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Comptoir Étain du Lac")).to_have_count(0)  # not a trader
    page.get_by_label(re.compile(TRADER)).check()
    page.get_by_label("Mineral").select_option("cassiterite")
    expect(page.get_by_label(re.compile(r"File 1"))).to_be_checked()
    page.get_by_role("button", name="Record the chain link").click()

    # The site's page: the downstream graph draws the edge to the trader, with the photo.
    expect(page).to_have_url(re.compile(r"/desks/drc-minerals/sites/\d+$"))
    graph = page.locator("section.graph svg")
    expect(graph.locator("a.node", has_text=TRADER)).to_be_visible()
    edge_tooltip = graph.locator("g.edge title").first
    expect(edge_tooltip).to_have_text(re.compile(r"^cassiterite, .*this desk; evidence: .+"))
    links = page.locator("section.graph table tbody tr")
    expect(links).to_have_count(1)
    expect(links.first).to_contain_text(SITE)
    expect(links.first).to_contain_text(TRADER)
    expect(links.first).to_contain_text(sent.receipt)
    # The trader's page: the upstream graph reaches back to the site.
    graph.locator("a.node", has_text=TRADER).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(TRADER)
    expect(page.locator("section.graph svg a.node", has_text=SITE)).to_be_visible()

    # The map: the geotag is drawn beside the site it was linked to.
    with page.expect_response(re.compile(r"/map/features\.geojson")) as answered:
        page.goto("/desks/drc-minerals/map?bbox=29.19,-1.73,29.27,-1.65")
    drawn = json.loads(answered.value.text())
    placed = {f["properties"]["layer"]: f["properties"] for f in drawn["features"]}
    assert placed["geotag"]["url"].startswith(f"/submissions/{sent.receipt}")
    assert placed["geotag"]["method"] == "consented"
    assert placed["site"]["name"] == SITE
    marker = page.locator(".map-marker-geotag")
    expect(marker).to_have_count(1)
    expect(page.locator(".map-marker-site")).to_have_count(1)
    marker.click()
    expect(page.locator(".leaflet-popup-content")).to_contain_text(sent.receipt)
