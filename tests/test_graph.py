"""The supply-chain graph drawn as SVG: readable at 200 nodes, deterministic, escaped."""

from __future__ import annotations

import datetime as dt
import random
from itertools import combinations
from xml.etree.ElementTree import Element

import pytest
from defusedxml.ElementTree import fromstring

from casework.chains import Edge, Graph, Node, NodeKey
from casework.graph import (
    NODE_H,
    NODE_W,
    Layout,
    layout,
    render_svg,
)
from casework.models import ActorKind

SVG = "{http://www.w3.org/2000/svg}"
CHAIN = [
    ActorKind.COOPERATIVE,
    ActorKind.TRADER,
    ActorKind.COMPTOIR,
    ActorKind.EXPORTER,
    ActorKind.SMELTER,
    ActorKind.COMPONENT_MAKER,
    ActorKind.MANUFACTURER,
    ActorKind.BRAND,
]


def url(node: Node) -> str:
    return f"/desks/d/{node.key[0]}s/{node.key[1]}"


def edge(number: int, source: NodeKey, target: NodeKey, **more: object) -> Edge:
    fields: dict[str, object] = {
        "mineral": "coltan",
        "period_start": dt.date(2024, 1, 1),
        "period_end": dt.date(2024, 6, 30),
        "shared": False,
        **more,
    }
    return Edge(number, source, target, **fields)  # type: ignore[arg-type]


def big_graph(size: int, seed: int = 5) -> Graph:
    """A mine and ``size - 1`` actors of every tier, each fed by one to three of the tier before."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible test graph, not a secret
    root: NodeKey = ("site", 1)
    graph = Graph(root=root, nodes={root: Node(root, "Mine 1", "site")})
    tiers: list[list[NodeKey]] = [[root]]
    kinds = [*CHAIN, ActorKind.ARMED_GROUP, ActorKind.TRADER, ActorKind.SMELTER]
    for number in range(2, size + 1):
        kind = kinds[number % len(kinds)]
        key: NodeKey = ("actor", number)
        graph.nodes[key] = Node(key, f"Actor {number} Wolfram-Werke MMMMMMMMMMMMMMMMMMMM", kind)
        level = CHAIN.index(kind) + 1 if kind in CHAIN else 1
        while len(tiers) <= level:
            tiers.append([])
        tiers[level].append(key)
        below = [k for t in tiers[:level] for k in t] or [root]
        for source in rng.sample(below, min(len(below), rng.randint(1, 3))):
            graph.edges.append(edge(len(graph.edges) + 1, source, key, evidence=("FLN-A file 1",)))
    return graph


def parse(svg: str) -> Element:
    return fromstring(svg)


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return abs(a[0] - b[0]) < NODE_W and abs(a[1] - b[1]) < NODE_H


def test_200_nodes_no_boxes_overlap_everything_inside_the_view_and_size_bounded() -> None:
    graph = big_graph(200)
    placed = layout(graph)
    corners = [(box.x, box.y) for box in placed.boxes.values()]
    assert len(corners) == 200
    assert not any(overlaps(a, b) for a, b in combinations(corners, 2))
    for x, y in corners:
        assert x >= 0
        assert x + NODE_W <= placed.width
        assert y >= 0
        assert y + NODE_H <= placed.height
    # Wrapped columns keep the boxes at most 30 rows tall; the drawing may grow below them so
    # that no two edge labels overlap, and stays bounded.
    assert placed.height <= 1400
    assert placed.width <= 20 * (NODE_W + 160)
    root = parse(render_svg(graph, url, title="Downstream of Mine 1"))
    width, height = (int(v) for v in root.get("viewBox", "").split()[2:])
    assert width == placed.width
    assert placed.height <= height <= 3000  # measured: 2812, the mine has 86 buyers here
    # Every text sits in a node's clipping box or, for labels and headers, inside the view.
    for text in root.iter(f"{SVG}text"):
        x, y = float(text.get("x", "0")), float(text.get("y", "0"))
        assert 0 <= x <= width
        assert 0 <= y <= height
    labels: dict[str, list[float]] = {}
    for group in root.iter(f"{SVG}g"):
        first = group.find(f"{SVG}text")
        assert first is not None
        labels.setdefault(first.get("x", ""), []).append(float(first.get("y", "0")))
    for ys in labels.values():  # two lines of 9px each: 22px apart at least, in each gap
        ys.sort()
        assert all(b - a >= 22 for a, b in zip(ys, ys[1:], strict=False))
    nested = [e for e in root.iter(f"{SVG}svg") if e is not root]
    assert len(nested) == 200
    for box in nested:
        assert (int(box.get("width", "0")), int(box.get("height", "0"))) == (NODE_W, NODE_H)


def test_every_node_links_to_its_page_and_every_edge_says_mineral_period_and_evidence() -> None:
    graph = big_graph(12)
    root = parse(render_svg(graph, url, title="t"))
    links = {a.get("href") for a in root.iter(f"{SVG}a")}
    assert links == {url(node) for node in graph.nodes.values()}
    edges = [g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]
    assert len(edges) == len(graph.edges)
    first = edges[0]
    texts = [t.text for t in first.iter(f"{SVG}text")]
    assert texts == ["coltan · 1 evidence", "2024-01-01 – 2024-06-30"]
    title = first.find(f"{SVG}title")
    assert title is not None
    assert title.text is not None
    assert "evidence: FLN-A file 1" in title.text


def test_names_are_escaped_never_markup() -> None:
    evil = '<script>alert("x")</script> & Fils "Négoce"'
    root_key: NodeKey = ("site", 1)
    graph = Graph(
        root=root_key,
        nodes={
            root_key: Node(root_key, evil, "site"),
            ("actor", 2): Node(("actor", 2), "A & B <b>bold</b>\x01\x0b", "trader"),
        },
        edges=[edge(1, root_key, ("actor", 2), mineral="<i>gold</i>", evidence=("<x>&",))],
    )
    svg = str(render_svg(graph, lambda n: f'/x?a=1&b="{n.key[1]}"', title=evil))
    assert "<script" not in svg
    assert "<b>" not in svg
    assert "<i>" not in svg
    root = parse(svg)  # well-formed, control characters dropped
    assert not list(root.iter(f"{SVG}script"))
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert evil in titles
    assert '<script>alert("x")</script> & Fils "Négoce" (mine site)' in titles
    assert any(t and "evidence: <x>&" in t for t in titles)
    hrefs = {a.get("href") for a in root.iter(f"{SVG}a")}
    assert hrefs == {'/x?a=1&b="1"', '/x?a=1&b="2"'}


def test_the_drawing_is_deterministic_whatever_order_the_graph_came_in() -> None:
    graph = big_graph(60)
    shuffled = Graph(root=graph.root, truncated=graph.truncated)
    keys = list(graph.nodes)
    random.Random(1).shuffle(keys)  # noqa: S311 - a reproducible order, not a secret
    shuffled.nodes = {key: graph.nodes[key] for key in keys}
    shuffled.edges = list(graph.edges)
    assert render_svg(graph, url, title="t") == render_svg(shuffled, url, title="t")


def crossings(graph: Graph, placed: Layout) -> int:
    """Edge pairs between the same two columns whose ends are in opposite orders."""
    spans = [
        (placed.boxes[e.source], placed.boxes[e.target])
        for e in graph.edges
        if placed.boxes[e.target].column == placed.boxes[e.source].column + 1
    ]
    return sum(
        1
        for (a1, a2), (b1, b2) in combinations(spans, 2)
        if a1.column == b1.column and (a1.y - b1.y) * (a2.y - b2.y) < 0
    )


def test_barycentre_sweeps_untangle_a_graph_that_can_be_drawn_without_crossings() -> None:
    # Three cooperatives feed three traders; by name the traders come in the opposite order.
    root: NodeKey = ("site", 1)
    graph = Graph(root=root, nodes={root: Node(root, "Mine", "site")})
    for i, (coop, trader) in enumerate(
        [("A coop", "Z trader"), ("B coop", "Y trader"), ("C coop", "X trader")]
    ):
        graph.nodes[("actor", 10 + i)] = Node(("actor", 10 + i), coop, "cooperative")
        graph.nodes[("actor", 20 + i)] = Node(("actor", 20 + i), trader, "trader")
        graph.edges.append(edge(i + 1, root, ("actor", 10 + i)))
        graph.edges.append(edge(i + 10, ("actor", 10 + i), ("actor", 20 + i)))
    assert crossings(graph, layout(graph)) == 0


def test_armed_groups_stand_beside_the_site_they_touch() -> None:
    root: NodeKey = ("site", 1)
    graph = Graph(
        root=root,
        nodes={
            root: Node(root, "Mine", "site"),
            ("actor", 2): Node(("actor", 2), "Coop", "cooperative"),
            ("actor", 3): Node(("actor", 3), "Armed group", "armed_group"),
            ("actor", 4): Node(("actor", 4), "Police des mines", "security_force"),
        },
        edges=[
            edge(1, root, ("actor", 2)),
            edge(2, root, ("actor", 3), mineral="gold"),
            edge(3, ("actor", 2), ("actor", 4)),
        ],
    )
    placed = layout(graph)
    site, group = placed.boxes[root], placed.boxes[("actor", 3)]
    assert (group.x, group.y) == (site.x, site.y + 42)
    coop, police = placed.boxes[("actor", 2)], placed.boxes[("actor", 4)]
    assert (police.x, police.y) == (coop.x, coop.y + 42)
    parse(render_svg(graph, url, title="t"))  # the same-column edges still draw


@pytest.mark.parametrize("size", [1, 2, 31, 200])
def test_any_size_parses(size: int) -> None:
    graph = big_graph(size)
    root = parse(render_svg(graph, url, title="t"))
    assert root.tag == f"{SVG}svg"
