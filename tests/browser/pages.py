"""Page helpers for the browser tests, named for what a person does on the intake pages,
and a recorder of everything a browser context sends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, FilePayload, Page, Route

SEND_BUTTON = "Send securely"


@dataclass(frozen=True)
class Sent:
    """One request as it left the browser."""

    method: str
    url: str
    body: bytes
    resource_type: str

    @property
    def path(self) -> str:
        """The URL's path."""
        return urlsplit(self.url).path


@dataclass
class Traffic:
    """Every request a browser context sends (page and workers alike), bodies included.

    Not those of a worker started by a worker (the hash worker, which only loads its script
    and libsodium.js from our origin): Playwright does not see them.

    Installed as the context's catch-all route: a test's own page routes run first and
    ``route.fallback()`` to it, so an aborted request is one that never left.
    """

    sent: list[Sent] = field(default_factory=list)

    @classmethod
    def record(cls, context: BrowserContext) -> Traffic:
        """Start recording a context's requests."""
        traffic = cls()
        context.route("**/*", traffic._record)
        return traffic

    def _record(self, route: Route) -> None:
        request = route.request
        self.sent.append(
            Sent(
                request.method, request.url, request.post_data_buffer or b"", request.resource_type
            )
        )
        route.continue_()

    def to(self, path_prefix: str, method: str | None = None) -> list[Sent]:
        """Requests whose path starts with ``path_prefix`` (and with ``method``, if given)."""
        return [
            s
            for s in self.sent
            if s.path.startswith(path_prefix) and (method is None or s.method == method)
        ]

    def clear(self) -> None:
        """Forget what was recorded so far."""
        self.sent.clear()


@dataclass(frozen=True)
class Receipt:
    """What the receipt page showed."""

    receipt: str
    codename: str | None
    text: str


class Source:
    """A source on the intake pages, with JavaScript on or off."""

    def __init__(self, page: Page, base_url: str, *, javascript: bool) -> None:
        self.page = page
        self.base_url = base_url
        self.javascript = javascript

    # -- the submission page --------------------------------------------------------------

    def open_submission_page(self, lang: str | None = None) -> None:
        """Go to the submission page; with JavaScript, wait until sealing is ready."""
        self.page.goto("/" + (f"?lang={lang}" if lang else ""))
        if self.javascript:
            self.wait_for_script()
            self.page.locator("#js-notice").wait_for(state="visible")

    def wait_for_script(self) -> None:
        """Wait until the page's script has taken over the form."""
        self.page.wait_for_function("document.documentElement.classList.contains('js')")

    def write_report(
        self, report: str, *, place: str = "", when: str = "", codename: str | None = None
    ) -> None:
        """Fill in the report, where and when, and a returning source's codename."""
        self.page.get_by_label("What happened?").fill(report)
        self.page.get_by_label("Where did it happen?").fill(place)
        self.page.get_by_label("When did it happen?").fill(when)
        if codename is not None:
            self.page.get_by_label("Your codename, if you have sent something before").fill(
                codename
            )

    def choose_files(self, files: Sequence[FilePayload]) -> None:
        """Pick files in the file chooser."""
        self.page.get_by_label("Photos, videos or documents").set_input_files(list(files))

    def keep_place_and_time_of_photo(self, index: int) -> None:
        """Tick "keep where and when this photo was taken" for one chosen photo."""
        self.page.locator(f"#keep-photo-{index}").check()

    def photo_details(self, index: int) -> str:
        """The hidden details the page found in a chosen photo, as shown."""
        card = self.page.locator(".file-card").nth(index)
        card.locator(".findings p").first.wait_for()
        return card.inner_text()

    def press_send(self) -> None:
        """Press the send button."""
        self.page.get_by_role("button", name=SEND_BUTTON).click()

    def submit_report(
        self,
        report: str,
        *,
        files: Sequence[FilePayload] = (),
        place: str = "",
        when: str = "",
        codename: str | None = None,
        keep_photos: Sequence[int] = (),
    ) -> Receipt:
        """Write a report, attach files, send it, and read the receipt."""
        self.open_submission_page()
        self.write_report(report, place=place, when=when, codename=codename)
        if files:
            self.choose_files(files)
        for index in keep_photos:
            self.keep_place_and_time_of_photo(index)
        self.press_send()
        return self.read_receipt()

    def read_receipt(self, timeout: float = 120_000) -> Receipt:
        """Wait for the receipt and read it (and the codename, shown to a new source)."""
        where = self.page.locator("#js-receipt" if self.javascript else "main")
        number = where.locator("[data-slot=receipt]")
        number.wait_for(state="visible", timeout=timeout)
        self.page.wait_for_load_state()
        codename = where.locator("[data-slot=codename]")
        return Receipt(
            receipt=number.inner_text().strip(),
            codename=codename.inner_text().strip() if codename.count() else None,
            text=where.inner_text(),
        )

    def failure_message(self) -> str:
        """The problem the page shows after a failed attempt to send."""
        problem = self.page.locator(".notice.problem:visible")
        problem.first.wait_for(state="visible")
        return " ".join(problem.all_inner_texts())

    # -- replies --------------------------------------------------------------------------

    def read_replies(self, codename: str) -> list[str]:
        """Open the replies page, type the codename, and read the replies."""
        self.page.goto("/replies")
        if self.javascript:
            self.wait_for_script()
        self.page.get_by_label("Your codename").fill(codename)
        self.page.get_by_role("button", name="Open my replies").click()
        self.page.locator("#reply-list").wait_for(state="visible", timeout=60_000)
        self.page.wait_for_load_state()  # the stylesheet too: it keeps a reply's line breaks
        return [t.strip() for t in self.page.locator("#reply-list .reply-text").all_inner_texts()]
