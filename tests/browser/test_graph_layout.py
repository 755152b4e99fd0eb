"""The 200-node supply-chain graph as Chromium lays it out (``tests/test_graph.py`` checks
the same geometry as the SVG states it): every box and label inside the view, none
overlapping, and a picture made of it."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from casework.graph import render_svg
from tests.test_graph import big_graph, url

pytestmark = pytest.mark.browser


def test_chromium_draws_200_nodes_inside_the_view_without_overlap(
    browser: Browser, tmp_path: Path
) -> None:
    svg = str(render_svg(big_graph(200), url, title="t"))
    page = browser.new_page()
    try:
        page.set_content(f"<!doctype html><body style='margin:0'>{svg}</body>")
        boxes = page.evaluate(
            """() => {
              const root = document.querySelector('svg').getBoundingClientRect();
              const rect = (e) => { const r = e.getBoundingClientRect();
                return [r.left - root.left, r.top - root.top, r.right - root.left,
                        r.bottom - root.top]; };
              return {
                root: [root.width, root.height],
                nodes: [...document.querySelectorAll('a.node > svg')].map(rect),
                labels: [...document.querySelectorAll('g.edge')].map((g) => {
                  const [a, b] = [...g.querySelectorAll('text')].map(rect);
                  return [Math.min(a[0], b[0]), a[1], Math.max(a[2], b[2]), b[3]];
                }),
              };
            }"""
        )
        png = page.locator("svg.chain-graph").screenshot(path=str(tmp_path / "graph.png"))
    finally:
        page.close()
    width, height = boxes["root"]
    assert len(boxes["nodes"]) == 200
    for left, top, right, bottom in boxes["nodes"] + boxes["labels"]:
        assert left >= 0
        assert top >= 0
        assert right <= width
        assert bottom <= height
    for kind, slack in [("nodes", 0.0), ("labels", 1.0)]:  # a label's glyphs may touch
        for a, b in combinations(boxes[kind], 2):
            apart = a[2] <= b[0] + slack or b[2] <= a[0] + slack
            assert apart or a[3] <= b[1] + slack or b[3] <= a[1] + slack, (kind, a, b)
    assert png.startswith(b"\x89PNG")
