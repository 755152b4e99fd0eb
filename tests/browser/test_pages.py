"""The source pages as HTTP responses: security headers, the form's contract, languages, and
the markup that ties errors to fields. No browser needed: these run with the Flask client."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po
from flask import Flask, render_template
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from intake import i18n
from intake.forms import RepliesForm, SubmissionForm
from intake.pages import SEALING_CSP, VENDOR_FILES, render_submission_page
from tests.conftest import DeskSetup

PAGES = ["/", "/replies", "/safety"]
SEALING_PAGES = {"/", "/replies"}
DESKS = [("drc-minerals", "DR Congo minerals")]


class Markup(HTMLParser):
    """What a page's HTML holds that CSP cares about, and its form controls."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.style_elements = 0
        self.style_attributes = 0
        self.handler_attributes: list[str] = []
        self.controls: dict[str, dict[str, str | None]] = {}
        self.forms: list[dict[str, str | None]] = []
        self.ids: set[str] = set()
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "script" and not attributes.get("src"):
            self.inline_scripts += 1
        if tag == "style":
            self.style_elements += 1
        if "style" in attributes:
            self.style_attributes += 1
        self.handler_attributes += [name for name in attributes if name.startswith("on")]
        if tag in ("input", "select", "textarea", "button") and attributes.get("name"):
            self.controls[str(attributes["name"])] = attributes
        if tag == "form":
            self.forms.append(attributes)


def parse(html: str) -> Markup:
    """Parse a page."""
    markup = Markup()
    markup.feed(html)
    return markup


@pytest.fixture
def pages(intake_client: FlaskClient, desk: DeskSetup) -> FlaskClient:
    """The intake client, with a desk to send to."""
    return intake_client


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_no_inline_script_or_style(pages: FlaskClient, path: str) -> None:
    markup = parse(pages.get(path).get_data(as_text=True))
    assert markup.inline_scripts == 0
    assert markup.style_elements == 0
    assert markup.style_attributes == 0
    assert markup.handler_attributes == []


@pytest.mark.parametrize("path", PAGES)
def test_only_pages_that_seal_may_compile_webassembly(pages: FlaskClient, path: str) -> None:
    response = pages.get(path)
    policy = response.headers["Content-Security-Policy"]
    assert ("'wasm-unsafe-eval'" in policy) == (path in SEALING_PAGES)
    assert "'unsafe-eval'" not in policy.replace("'wasm-unsafe-eval'", "")
    assert "'unsafe-inline'" not in policy
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("worker", ["seal-worker.js", "hash-worker.js"])
def test_the_sealing_workers_run_under_the_sealing_policy(pages: FlaskClient, worker: str) -> None:
    # The hash worker is started by the sealing worker and loads libsodium.js too.
    with pages.get(f"/static/intake/{worker}") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert response.headers["Content-Security-Policy"] == SEALING_CSP
    with pages.get("/static/intake/submit.mjs") as other:
        assert "'wasm-unsafe-eval'" not in other.headers["Content-Security-Policy"]
        # Not even our scripts stay in a source's browser cache, to be found there later.
        assert other.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("name", sorted(VENDOR_FILES))
def test_browser_libraries_are_served_from_our_origin(pages: FlaskClient, name: str) -> None:
    with pages.get(f"/vendor/{name}") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"


@pytest.mark.parametrize(
    "path",
    [
        "/vendor/package.json",
        "/vendor/..%2Fpackage.json",
        "/vendor/libsodium.js",
        "/static/intake/../../filon/settings.py",
        "/static/intake/%2E%2E/pages.py",
        "/static/nothing.js",
    ],
)
def test_nothing_else_is_served_from_disk(pages: FlaskClient, path: str) -> None:
    assert pages.get(path).status_code == 404


def test_the_form_posts_the_contract_fields_without_javascript(pages: FlaskClient) -> None:
    markup = parse(pages.get("/").get_data(as_text=True))
    (form,) = markup.forms
    assert form["method"] == "post"
    assert form["enctype"] == "multipart/form-data"
    assert form["action"] == "/submit?lang=en"
    expected = {"desk", "report", "place", "when", "codename", "keep_metadata", "files"}
    assert expected | {"website", "csrf_token", "lang"} <= set(markup.controls)
    assert "checked" not in markup.controls["keep_metadata"]
    assert "multiple" in markup.controls["files"]
    assert markup.controls["website"]["tabindex"] == "-1"
    assert markup.controls["report"]["maxlength"] == "100000"


def test_replies_form_posts_to_the_no_javascript_handler(pages: FlaskClient) -> None:
    markup = parse(pages.get("/replies?lang=fr").get_data(as_text=True))
    (form,) = markup.forms
    assert (form["method"], form["action"]) == ("post", "/replies?lang=fr")
    assert {"codename", "csrf_token", "lang"} <= set(markup.controls)
    assert markup.controls["lang"]["value"] == "fr"


@pytest.mark.parametrize(
    ("query", "accept", "lang", "heading"),
    [
        ("", "", "en", "Send evidence safely"),
        ("?lang=fr", "", "fr", "Envoyer des preuves en sécurité"),
        ("?lang=nl", "fr", "nl", "Veilig bewijs sturen"),
        ("?lang=sw", "", "sw", "Tuma ushahidi kwa usalama"),
        ("", "fr-CD,fr;q=0.9,en;q=0.5", "fr", "Envoyer des preuves en sécurité"),
        ("", "sw-KE", "sw", "Tuma ushahidi kwa usalama"),
        ("", "ln-CD,de;q=0.8", "en", "Send evidence safely"),
        ("?lang=xx", "nl-BE", "nl", "Veilig bewijs sturen"),
    ],
)
def test_the_language_comes_from_the_link_then_the_browser(
    pages: FlaskClient, query: str, accept: str, lang: str, heading: str
) -> None:
    response = pages.get(f"/{query}", headers={"Accept-Language": accept} if accept else {})
    html = response.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert f"<h1>{heading}</h1>" in html
    assert f'action="/submit?lang={lang}"' in html
    assert f'href="/replies?lang={lang}"' in html
    assert not [c for c in response.headers.getlist("Set-Cookie") if "lang" in c.lower()]


@pytest.mark.parametrize("code", sorted(set(i18n.LANGUAGES) - {i18n.DEFAULT_LANGUAGE}))
def test_every_text_is_translated(code: str) -> None:
    path = i18n.TRANSLATIONS / code / "LC_MESSAGES" / "messages.po"
    with open(path, "rb") as handle:
        catalogue = read_po(handle)
    with open(i18n.TRANSLATIONS / "messages.pot", "rb") as handle:
        template = read_po(handle)
    wanted = {m.id for m in template if m.id}
    translated = {m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy}
    assert wanted - set(translated) == set()
    for msgid, text in translated.items():
        placeholders = re.findall(r"\{\w+\}|%\(\w+\)[sd]", str(msgid))
        assert all(p in str(text) for p in placeholders), msgid


def test_the_catalogues_cover_what_the_metadata_policy_says() -> None:
    # The policy is worded in intake/metadata/policy.py without gettext markers; the pages
    # translate its texts at run time. A reworded policy needs the catalogues updated
    # (pybabel extract / update, see babel.cfg), or sources would read it in English.
    with open(i18n.TRANSLATIONS / "messages.pot", "rb") as handle:
        template = {m.id for m in read_po(handle) if m.id}
    assert set(i18n.policy_texts()) - template == set()


def _submission_page(app: Flask, data: dict[str, str], errors: object = None) -> Markup:
    with app.test_request_context("/submit", method="POST"):
        form = SubmissionForm(formdata=MultiDict(data), desks=DESKS, meta={"csrf": False})
        form.validate()
        return parse(render_submission_page(form=form, errors=errors).get_data(as_text=True))


def test_errors_are_tied_to_their_fields(intake_app: Flask) -> None:
    markup = _submission_page(intake_app, {"desk": "drc-minerals", "report": "  "})
    report = markup.controls["report"]
    assert report["aria-invalid"] == "true"
    assert report["aria-describedby"] == "report-hint report-error"
    assert "report-error" in markup.ids
    assert "error-summary" in markup.ids
    assert "aria-invalid" not in markup.controls["place"]


def test_the_honeypot_and_an_unknown_desk_are_refused(intake_app: Flask) -> None:
    with intake_app.test_request_context("/submit", method="POST"):
        data = MultiDict({"desk": "elsewhere", "report": "text", "website": "http://spam"})
        form = SubmissionForm(formdata=data, desks=DESKS, meta={"csrf": False})
        assert not form.validate()
        assert set(form.errors) == {"desk", "website"}


def test_a_handler_message_shows_in_the_summary(intake_app: Flask) -> None:
    with intake_app.test_request_context("/submit", method="POST"):
        form = SubmissionForm(
            formdata=MultiDict({"desk": "drc-minerals", "report": "text"}),
            desks=DESKS,
            meta={"csrf": False},
        )
        html = render_submission_page(
            form=form, errors={"form": "Too many reports"}, status=429
        ).get_data(as_text=True)
    assert "<li>Too many reports</li>" in html


@pytest.mark.parametrize(
    "codename", [None, "abandon ability able about above absent absorb abstract"]
)
def test_the_receipt_shows_a_codename_only_to_a_new_source(
    intake_app: Flask, codename: str | None
) -> None:
    with intake_app.test_request_context("/submit", method="POST"):
        html = render_template(
            "intake/receipt.html",
            receipt="FLN-ABCD-EFGH-IJKL-MNOP",
            signed_receipt="c2lnbmF0dXJl",
            codename=codename,
            files=[
                {"name": "pit.jpg", "status": "cleaned", "reason": None},
                {"name": "clip.mp4", "status": "not_cleaned", "reason": "we cannot clean videos"},
            ],
            signing_key_fingerprint="1a2b 3c4d",
        )
    assert "FLN-ABCD-EFGH-IJKL-MNOP" in html
    assert ("Write it down now" in html) == (codename is not None)
    if codename:
        assert codename in html
    assert "not cleaned: kept sealed exactly as you sent it." in html
    assert "we cannot clean videos" in html


def test_the_replies_page_ties_a_handler_error_to_the_codename(intake_app: Flask) -> None:
    with intake_app.test_request_context("/replies", method="POST"):
        form = RepliesForm(formdata=MultiDict({"codename": "wrong words"}), meta={"csrf": False})
        html = render_template("intake/replies.html", form=form, error="No one has this codename")
    markup = parse(html)
    codename = markup.controls["codename"]
    assert codename["aria-describedby"] == "codename-hint codename-error"
    assert codename["value"] == ""  # a codename is never written back into the page
    assert "No one has this codename" in html
