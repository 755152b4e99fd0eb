"""The desk map in Chromium: our own basemap and markers, and not one request elsewhere.

The map page loads Leaflet, its marker clusters and the Natural Earth outlines from the
casework itself; a page that asked a CDN or a tile server for anything would tell it who is
looking at which mines. A site name from an imported register is shown as text, never run.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from filon.instance import Instance
from tests.browser.pages import Traffic
from tests.conftest import StaffAccount, totp_code
from tests.test_map import HOSTILE_NAME, add_sites

pytestmark = pytest.mark.browser

DESK = "drc-minerals"


class MapReader:
    """A staff member reading the desk's map."""

    def __init__(self, page: Page, account: StaffAccount) -> None:
        self.page = page
        self.account = account
        self.console_errors: list[str] = []
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":  # CSP refusals and script errors land here
            self.console_errors.append(message.text)

    def sign_in(self) -> None:
        """Type username, password and the authenticator's current code."""
        self.page.goto("/login")
        self.page.get_by_label("Username").fill(self.account.username)
        self.page.get_by_label("Password").fill(self.account.password)
        self.page.get_by_label("Authenticator code").fill(totp_code(self.account.totp_secret))
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page).to_have_url(re.compile(rf"/desks/{DESK}$"))

    def open_map(self, query: str = "") -> None:
        """Follow the inbox's link to the map (or go to it with a query) and let it load."""
        if query:
            self.page.goto(f"/desks/{DESK}/map?{query}")
        else:
            self.page.get_by_role("link", name="Map", exact=True).click()
        expect(self.page.locator("#map")).to_have_attribute("data-basemap-loaded", "4")
        expect(self.page.locator("#map")).to_have_attribute("data-shown", re.compile(r"\d+"))

    def choose_mineral(self, name: str) -> None:
        """Pick a mineral in the filter form (the map asks again at once)."""
        self.page.get_by_label("Mineral", exact=True).select_option(label=name)


@pytest.fixture
def traffic(staff_context: BrowserContext) -> Traffic:
    """Every request the staff member's browser sends, from the sign-in page on."""
    return Traffic.record(staff_context)


@pytest.fixture
def reader(
    staff_context: BrowserContext,
    traffic: Traffic,
    investigator: StaffAccount,
    instance: Instance,
) -> MapReader:
    """The desk's investigator, signed in, with a register of mine sites in the Kivus."""
    add_sites(
        instance,
        *(
            {
                "name": f"Site {i}",
                "lat": -2.0 - (i % 5) * 0.02,
                "lon": 28.8 + (i // 5) * 0.02,
                "minerals": ["gold"] if i % 3 else ["coltan"],
                "armed": i % 4 == 0,
            }
            for i in range(30)
        ),
        {"name": HOSTILE_NAME, "lat": -4.5, "lon": 26.5, "minerals": ["gold"]},
    )
    made = MapReader(staff_context.new_page(), investigator)
    made.sign_in()
    return made


def test_the_map_draws_our_basemap_and_markers_and_asks_no_other_host(
    reader: MapReader, traffic: Traffic, live_casework: str
) -> None:
    reader.open_map()
    page = reader.page
    # The outlines: land, lakes, borders and provinces, drawn in their own pane.
    assert page.locator(".leaflet-basemap-pane path").count() >= 4
    # The sites: clustered where they crowd, one marker where one stands alone.
    expect(page.locator(".marker-cluster").first).to_be_visible()
    expect(page.locator("path.map-marker-site").first).to_be_attached()
    expect(page.locator(".map-legend")).to_contain_text("Mine site, armed presence seen")
    assert len(traffic.to("/map/basemap/")) == 4
    assert traffic.to("/map/vendor/leaflet.js")
    # A filter asks again, with the filter.
    with page.expect_response(re.compile(r"features\.geojson\?.*mineral=coltan")):
        reader.choose_mineral("Coltan")
    expect(page.locator("#map")).to_have_attribute("data-shown", "10")
    # Everything the browser asked for, from the sign-in page on, went to the casework.
    origin = urlsplit(live_casework)
    assert len(traffic.sent) > 10
    for sent in traffic.sent:
        parts = urlsplit(sent.url)
        assert (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc), sent.url
    assert reader.console_errors == []


def test_a_hostile_site_name_is_shown_as_text(reader: MapReader) -> None:
    reader.open_map("bbox=26,-5,27,-4")
    page = reader.page
    expect(page.locator("#map")).to_have_attribute("data-shown", "1")
    page.locator("path.map-marker-site").click()
    popup = page.locator(".leaflet-popup-content")
    expect(popup.locator("strong")).to_have_text(HOSTILE_NAME)
    assert popup.locator("img").count() == 0
    assert page.evaluate("window.pwned") is None
    # The table under the map shows the name as text too.
    expect(page.locator("table.sites")).to_contain_text(HOSTILE_NAME)
    assert reader.console_errors == []
