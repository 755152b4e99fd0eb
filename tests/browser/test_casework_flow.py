"""The demo, in Chromium: a source sends a photo, an investigator reads it, opens a case and
replies, and the source reads the reply with the codename.

Two live servers, as ``filon serve`` runs them: the intake and the casework. The source uses
one browser profile, the investigator another (the casework's cookies are its own), and the
source comes back in a fresh profile, as from another day, holding only the codename.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from filon.demo import DEMO_DESK, seed_demo
from filon.instance import Instance
from intake.demo import seed_submissions
from tests.browser.evidence import payload, photo_with_location
from tests.browser.pages import Source
from tests.conftest import DeskSetup, StaffAccount, totp_code

pytestmark = pytest.mark.browser

REPORT = "Soldiers stop the trucks at the Rubaya barrier and take two sacks of each load."
CASE_TITLE = "Levies at the Rubaya barrier"
DEMO_PASSWORD = "demo-password-for-the-browser"
REPLY = "Thank you. Since which day have the soldiers been at the barrier?"


class Investigator:
    """An investigator on the casework pages."""

    def __init__(self, page: Page, account: StaffAccount) -> None:
        self.page = page
        self.account = account

    def sign_in(self) -> None:
        """Type username, password and the authenticator's current code."""
        self.page.goto("/login")
        self.page.get_by_label("Username").fill(self.account.username)
        self.page.get_by_label("Password").fill(self.account.password)
        self.page.get_by_label("Authenticator code").fill(totp_code(self.account.totp_secret))
        self.page.get_by_role("button", name="Sign in").click()

    def open_submission(self, receipt: str) -> None:
        """Follow the receipt's link in the inbox."""
        self.page.get_by_role("link", name=receipt).click()
        expect(self.page.get_by_role("heading", level=1)).to_have_text(f"Submission {receipt}")

    def file_report(self) -> str:
        """The metadata report of the first file, as shown."""
        return self.page.locator("section.file").first.inner_text()

    def create_case(self, title: str) -> None:
        """Give the case a title and create it from the open submission."""
        self.page.get_by_label("Case title").fill(title)
        self.page.get_by_role("button", name="Create a case").click()

    def reply(self, text: str) -> None:
        """Write to the source and send."""
        self.page.get_by_label("Message (sealed to the source and to this desk)").fill(text)
        self.page.get_by_role("button", name="Send reply").click()


def test_an_investigator_reads_opens_a_case_and_replies_and_the_source_reads_it(
    source: Source,
    staff_context: BrowserContext,
    fresh_context: BrowserContext,
    instance: Instance,
    desk: DeskSetup,
    investigator: StaffAccount,
) -> None:
    # The source sends a report and a photo whose EXIF holds a phone and a GPS position,
    # and keeps the photo's place and time.
    sent = source.submit_report(
        REPORT, files=[payload("barrier.jpg", "image/jpeg", photo_with_location())], keep_photos=[0]
    )
    assert sent.codename is not None
    receipt = sent.receipt

    # The investigator signs in with password and code and lands in the desk's inbox.
    staff = Investigator(staff_context.new_page(), investigator)
    staff.sign_in()
    expect(staff.page).to_have_url(re.compile(r"/desks/drc-minerals$"))
    expect(staff.page.get_by_role("main")).to_contain_text("DR Congo minerals")
    expect(staff.page.get_by_role("link", name=receipt)).to_be_visible()
    assert REPORT not in staff.page.content()  # the inbox opens nothing

    # The submission, opened with the desk key: the report and what cleaning found.
    staff.open_submission(receipt)
    main = staff.page.get_by_role("main")
    expect(main).to_contain_text(REPORT)
    report = staff.file_report()
    assert "barrier.jpg" in report
    assert "Cleaning: cleaned" in report
    for heading in ("Metadata found", "Metadata removed"):
        listed = re.search(heading + r"\s*(.+)", report)
        assert listed is not None, heading
        for what in (
            "GPS position",
            "camera make and model (Tecno Spark 10)",
            "serial number (SN-4471-0092)",
            "author (Jean Mukendi)",
        ):
            assert what in listed.group(1), (heading, what)
    location = re.search(r"Location \(consented\)\s*(.+)", report)
    assert location is not None
    latitude, longitude = (float(v) for v in location.group(1).split(","))
    assert (round(latitude, 3), round(longitude, 3)) == (-1.679, 29.22)
    taken = re.search(r"Time taken \(consented\)\s*(.+)", report)
    assert taken is not None
    assert "2024-03-12" in taken.group(1)

    # A case from it.
    staff.create_case(CASE_TITLE)
    expect(staff.page).to_have_url(re.compile(r"/cases/\d+$"))
    expect(staff.page.get_by_role("main")).to_contain_text(CASE_TITLE)
    expect(staff.page.get_by_role("link", name=receipt)).to_be_visible()

    # A reply, from the submission's page.
    staff.page.get_by_role("link", name=receipt).click()
    staff.reply(REPLY)
    expect(staff.page.get_by_role("status")).to_have_text("Your reply was sealed and sent.")

    # The source, in a fresh profile of the same browser, with only the codename.
    back = Source(fresh_context.new_page(), source.base_url, javascript=True)
    assert back.read_replies(sent.codename) == [REPLY]
    expect(back.page.locator("#reply-list")).to_contain_text(REPLY)


def test_the_demo_investigator_answers_the_demo_photo_and_its_source_reads_the_reply(
    staff_context: BrowserContext,
    fresh_context: BrowserContext,
    live_intake: str,
    instance: Instance,
) -> None:
    # The demo exactly as `filon init --demo` makes it: its desk, accounts and samples.
    logins = {login.username: login for login in seed_demo(instance, password=DEMO_PASSWORD)}
    photo = seed_submissions(instance, DEMO_DESK)[0]  # the first sample carries the photo
    assert photo.codename is not None
    login = logins["investigator"]

    staff = Investigator(
        staff_context.new_page(), StaffAccount(login.username, login.password, login.totp_secret)
    )
    staff.sign_in()
    expect(staff.page).to_have_url(re.compile(rf"/desks/{DEMO_DESK}$"))
    staff.open_submission(photo.receipt)
    expect(staff.page.get_by_role("main")).to_contain_text("Des hommes armés contrôlent")
    report = staff.file_report()
    assert "IMG_0042.jpg" in report
    assert "Cleaning: cleaned" in report
    for heading in ("Metadata found", "Metadata removed"):
        listed = re.search(heading + r"\s*(.+)", report)
        assert listed is not None, heading
        assert "GPS position" in listed.group(1), heading
        assert "ExampleCam" in listed.group(1), heading

    staff.create_case("Armed men at the washing site")
    expect(staff.page).to_have_url(re.compile(r"/cases/\d+$"))
    staff.page.get_by_role("link", name=photo.receipt).click()
    staff.reply(REPLY)
    expect(staff.page.get_by_role("status")).to_have_text("Your reply was sealed and sent.")

    back = Source(fresh_context.new_page(), live_intake, javascript=True)
    assert back.read_replies(photo.codename) == [REPLY]
