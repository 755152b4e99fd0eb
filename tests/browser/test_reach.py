"""The pages reach people: a 360-pixel phone, a keyboard, a screen reader, weak eyesight."""

from __future__ import annotations

import pytest

from tests.browser.pages import Source

pytestmark = pytest.mark.browser

PAGES = ["/", "/replies", "/safety"]

# WCAG 2.x relative luminance and contrast ratio, for each element's text on its background.
CONTRAST = """
(selector) => {
  const channel = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const parse = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (node) => {
    for (; node; node = node.parentElement) {
      const [r, g, b, a = 1] = parse(getComputedStyle(node).backgroundColor);
      if (a > 0) return [r, g, b];
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll(selector)]
    .filter((node) => node.offsetParent !== null && node.textContent.trim())
    .map((node) => {
      const fg = luminance(parse(getComputedStyle(node).color));
      const bg = luminance(background(node));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      return [node.tagName + '.' + node.className, Math.round(ratio * 100) / 100];
    });
}
"""


def _person(request: pytest.FixtureRequest, *, javascript: bool) -> Source:
    """A source with JavaScript on or off (only that browser context is made)."""
    person: Source = request.getfixturevalue("source" if javascript else "nojs_source")
    return person


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_pages_fit_a_360_pixel_screen(
    request: pytest.FixtureRequest, path: str, javascript: bool
) -> None:
    page = _person(request, javascript=javascript).page
    page.goto(path)
    assert page.viewport_size == {"width": 360, "height": 740}
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360


@pytest.mark.parametrize("path", PAGES)
def test_every_field_has_a_label(source: Source, path: str) -> None:
    source.page.goto(path)
    unlabelled = source.page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter((c) => c.labels.length === 0 && !c.getAttribute('aria-label'))
              .map((c) => c.name || c.id)"""
    )
    assert unlabelled == []


def test_the_skip_link_is_the_first_stop_and_leads_to_the_content(source: Source) -> None:
    source.open_submission_page()
    source.page.keyboard.press("Tab")
    link = source.page.locator(":focus")
    assert link.inner_text() == "Skip to main content"
    box = link.bounding_box()
    assert box is not None  # visible once focused
    assert box["y"] >= 0
    assert box["height"] > 0
    source.page.keyboard.press("Enter")
    assert source.page.evaluate("document.activeElement.id") == "content"


@pytest.mark.parametrize(
    ("javascript", "expected"),
    [
        (
            True,
            [
                "desk",
                "report",
                "place",
                "when",
                "files",
                "policy-summary",
                "codename",
                "send-button",
            ],
        ),
        (
            False,
            [
                "desk",
                "report",
                "place",
                "when",
                "files",
                "keep_metadata",
                "policy-summary",
                "codename",
                "send-button",
            ],
        ),
    ],
    ids=["js", "nojs"],
)
def test_the_keyboard_goes_through_the_form_in_order(
    request: pytest.FixtureRequest, javascript: bool, expected: list[str]
) -> None:
    person = _person(request, javascript=javascript)
    person.page.goto("/")
    if javascript:
        person.wait_for_script()
    person.page.get_by_label("Who should receive this?").focus()
    visited = []
    for _ in range(len(expected) + 2):
        focused = person.page.evaluate("document.activeElement.id")
        if focused not in visited:
            visited.append(focused)
        if focused == "send-button":
            break
        person.page.keyboard.press("Tab")
    assert visited == expected  # the honeypot is never reached


@pytest.mark.parametrize("path", PAGES)
def test_text_contrast_meets_wcag_aa(source: Source, path: str) -> None:
    source.page.goto(path)
    ratios = source.page.evaluate(CONTRAST, "p, li, label, legend, a, h1, h2, button, td, th")
    assert ratios, "nothing was measured"
    low = [(what, ratio) for what, ratio in ratios if ratio < 4.5]
    assert low == []
