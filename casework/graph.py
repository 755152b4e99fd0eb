"""A supply-chain graph drawn as SVG on the server: inline in the page, no JavaScript needed.

Layout: one column per tier, left to right (mine site → operator or cooperative → trader →
comptoir → exporter → smelter or refiner → component maker → manufacturer → brand). Armed
groups, security forces and authorities stand beside the site or actor they touch, in its
column, just below it. Within a column nodes are ordered by barycentre sweeps (each node
moves towards the mean position of its neighbours in the columns already placed), which
removes most edge crossings; ties fall back to the name, so the same graph always draws the
same picture. A column taller than :data:`MAX_ROWS` wraps into another column beside it, so
the drawing stays readable (and bounded) at :data:`casework.chains.MAX_NODES` nodes. An edge
that skips columns runs along the gap between two rows, never under a box; edge labels are
placed clear of each other (a crowded gap makes the drawing taller, never illegible).

Every name comes from an import or a staff member: every text and attribute is escaped, and
characters XML cannot hold are dropped, so the page can neither run a script nor break.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape as _xml_escape

from markupsafe import Markup

from casework.chains import Edge, Graph, Node, NodeKey
from casework.models import ActorKind

TIERS: dict[str, int] = {
    "site": 0,
    ActorKind.MINE_OPERATOR: 1,
    ActorKind.COOPERATIVE: 1,
    ActorKind.TRADER: 2,
    ActorKind.COMPTOIR: 3,
    ActorKind.EXPORTER: 4,
    ActorKind.SMELTER: 5,
    ActorKind.REFINER: 5,
    ActorKind.COMPONENT_MAKER: 6,
    ActorKind.MANUFACTURER: 7,
    ActorKind.BRAND: 8,
}
TIER_NAMES = (
    "Mine site",
    "Operator / cooperative",
    "Trader / négociant",
    "Comptoir",
    "Exporter",
    "Smelter / refiner",
    "Component maker",
    "Manufacturer",
    "Brand",
)
BESIDE = {ActorKind.ARMED_GROUP, ActorKind.SECURITY_FORCE, ActorKind.AUTHORITY}
FILLS = {
    "site": "#f3e2c7",
    "beside": "#f6d0d0",
    "actor": "#dde8f5",
}

NODE_W = 180
NODE_H = 30
ROW_PITCH = 42
COL_GAP = 160  # room for an edge's label between two columns
COL_PITCH = NODE_W + COL_GAP
MARGIN = 16
HEADER = 28
MAX_ROWS = 30  # a taller column wraps
NAME_CHARS = 26  # a name is cut here (the full name is in its tooltip); the box clips the rest
LABEL_CHARS = 30
SWEEPS = 4

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """Text safe inside an SVG element or a double-quoted attribute."""
    return _xml_escape(_NOT_XML.sub("", text), {'"': "&quot;"})


def cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Box:
    """Where a node is drawn."""

    x: int
    y: int
    column: int

    @property
    def right(self) -> int:
        return self.x + NODE_W

    @property
    def middle(self) -> int:
        return self.y + NODE_H // 2


@dataclass(frozen=True)
class Layout:
    """Every node's box and the drawing's size."""

    boxes: dict[NodeKey, Box]
    width: int
    height: int
    headers: list[tuple[int, str]]  # (x, tier name) over each column


def tier_of(node: Node, graph: Graph) -> int:
    """A node's column before wrapping: its tier, or for a bystander its neighbour's."""
    if node.kind not in BESIDE:
        return TIERS.get(node.kind, 0)
    tiers = [
        TIERS.get(graph.nodes[other].kind, 0)
        for other in _neighbours(graph).get(node.key, [])
        if graph.nodes[other].kind not in BESIDE
    ]
    return min(tiers, default=0)


def layout(graph: Graph) -> Layout:
    """Columns by tier, ordered by barycentre sweeps, wrapped past :data:`MAX_ROWS`."""
    neighbours = _neighbours(graph)
    columns: dict[int, list[NodeKey]] = {}
    beside: dict[NodeKey, NodeKey | None] = {}
    for node in sorted(graph.nodes.values(), key=_name_order):
        if node.kind in BESIDE:
            beside[node.key] = _anchor(node, graph, neighbours)
        else:
            columns.setdefault(tier_of(node, graph), []).append(node.key)
    tiers = sorted(columns)
    order = [columns[t] for t in tiers]
    _sweep(order, neighbours)
    _place_beside(order, tiers, beside, graph)
    return _geometry(order, tiers)


def _name_order(node: Node) -> tuple[str, str, int]:
    return (node.name.casefold(), node.key[0], node.key[1])


def _neighbours(graph: Graph) -> dict[NodeKey, list[NodeKey]]:
    found: dict[NodeKey, list[NodeKey]] = {}
    for edge in graph.edges:
        found.setdefault(edge.source, []).append(edge.target)
        found.setdefault(edge.target, []).append(edge.source)
    return found


def _anchor(node: Node, graph: Graph, neighbours: dict[NodeKey, list[NodeKey]]) -> NodeKey | None:
    """The site or actor a bystander stands beside: its lowest-tier neighbour, by name."""
    others = [
        graph.nodes[k] for k in neighbours.get(node.key, []) if graph.nodes[k].kind not in BESIDE
    ]
    if not others:
        return None
    return min(others, key=lambda n: (TIERS.get(n.kind, 0), *_name_order(n))).key


def _sweep(order: list[list[NodeKey]], neighbours: dict[NodeKey, list[NodeKey]]) -> None:
    """Barycentre sweeps, left to right then right to left, a few times over."""
    for sweep in range(SWEEPS):
        indices = range(1, len(order)) if sweep % 2 == 0 else range(len(order) - 2, -1, -1)
        for i in indices:
            fixed = order[:i] if sweep % 2 == 0 else order[i + 1 :]
            where = {
                key: pos / max(len(column), 1) for column in fixed for pos, key in enumerate(column)
            }
            current = {key: pos / max(len(order[i]), 1) for pos, key in enumerate(order[i])}

            order[i].sort(key=lambda key: (_centre(key, where, current, neighbours), current[key]))


def _centre(
    key: NodeKey,
    where: dict[NodeKey, float],
    current: dict[NodeKey, float],
    neighbours: dict[NodeKey, list[NodeKey]],
) -> float:
    """The mean position of a node's neighbours in the fixed column, or where it stands."""
    near = [where[k] for k in neighbours.get(key, []) if k in where]
    return sum(near) / len(near) if near else current[key]


def _place_beside(
    order: list[list[NodeKey]],
    tiers: list[int],
    beside: dict[NodeKey, NodeKey | None],
    graph: Graph,
) -> None:
    """Each bystander right below its anchor (after those already there); lone ones first."""
    lone = [key for key, anchor in beside.items() if anchor is None]
    if lone:
        if tiers and tiers[0] == 0:
            order[0].extend(lone)
        else:
            tiers.insert(0, 0)
            order.insert(0, lone)
    for key, anchor in beside.items():
        if anchor is None:
            continue
        for column in order:
            if anchor in column:
                at = column.index(anchor) + 1
                while at < len(column) and graph.nodes[column[at]].kind in BESIDE:
                    at += 1
                column.insert(at, key)
                break


def _geometry(order: list[list[NodeKey]], tiers: list[int]) -> Layout:
    boxes: dict[NodeKey, Box] = {}
    headers: list[tuple[int, str]] = []
    column = 0
    tallest = 1
    for tier, keys in zip(tiers, order, strict=True):
        parts = max(1, math.ceil(len(keys) / MAX_ROWS))
        rows = math.ceil(len(keys) / parts) if keys else 0
        for part in range(parts):
            x = MARGIN + column * COL_PITCH
            headers.append((x, TIER_NAMES[min(tier, len(TIER_NAMES) - 1)]))
            for row, key in enumerate(keys[part * rows : (part + 1) * rows]):
                boxes[key] = Box(x, MARGIN + HEADER + row * ROW_PITCH, column)
            column += 1
        tallest = max(tallest, rows)
    width = 2 * MARGIN + max(column, 1) * COL_PITCH
    height = 2 * MARGIN + HEADER + tallest * ROW_PITCH
    return Layout(boxes, width, height, headers)


# -- drawing ----------------------------------------------------------------------------------


def render_svg(graph: Graph, url_for_node: Callable[[Node], str], *, title: str) -> Markup:
    """The graph as one ``<svg>`` element, every node a link to its page."""
    placed = layout(graph)
    taken: dict[int, list[int]] = {}
    edges = [_edge(edge, placed, taken) for edge in graph.edges]
    # Labels never overlap: a gap crowded with them makes the drawing taller instead.
    lowest = max((y for ys in taken.values() for y in ys), default=0)
    height = max(placed.height, lowest + LABEL_H // 2 + MARGIN)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chain-graph" role="img"'
        f' viewBox="0 0 {placed.width} {height}" width="{placed.width}"'
        f' height="{height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7"'
        ' markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"'
        ' fill="#555"/></marker></defs>',
    ]
    for x, name in placed.headers:
        parts.append(
            f'<text x="{x}" y="{MARGIN + 12}" font-weight="bold" fill="#333">'
            f"{escape(cut(name, NAME_CHARS))}</text>"
        )
    parts.extend(edges)
    for key in sorted(placed.boxes):
        parts.append(
            _node(
                graph.nodes[key],
                placed.boxes[key],
                url_for_node(graph.nodes[key]),
                key == graph.root,
            )
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above went through escape()


def edge_label(edge: Edge) -> tuple[str, str]:
    """Two short lines: the mineral with the evidence count, and the period."""
    count = len(edge.evidence)
    first = f"{edge.mineral or 'mineral?'} · {count} evidence"
    return cut(first, LABEL_CHARS), cut(_period(edge), LABEL_CHARS)


def _period(edge: Edge) -> str:
    start = edge.period_start.isoformat() if edge.period_start else "…"
    end = edge.period_end.isoformat() if edge.period_end else "…"
    return "period unknown" if start == end == "…" else f"{start} – {end}"


LABEL_H = 22  # two lines of 9px text


def _edge(edge: Edge, placed: Layout, taken: dict[int, list[int]]) -> str:
    """One edge: its path, and its label in the gap after the source, clear of other labels.

    An edge to the next column is a curve across the gap between them. A longer one runs
    along the gap between two rows (where no box ever stands), so it never passes under a
    node it does not touch. An edge within a column or backwards loops out to the right.
    """
    source, target = placed.boxes[edge.source], placed.boxes[edge.target]
    x1, y1 = source.right, source.middle
    gap = x1 + COL_GAP // 2
    if target.column == source.column + 1 and target.x > source.x:
        x2, y2 = target.x, target.middle
        path = f"M{x1},{y1} C{gap},{y1} {gap},{y2} {x2},{y2}"
        slots = [(gap, (y1 + y2) // 2)]
    elif target.x > source.x:
        x2, y2 = target.x, target.middle
        lane = source.y + NODE_H + (ROW_PITCH - NODE_H) // 2
        if y2 < y1:
            lane = source.y - (ROW_PITCH - NODE_H) // 2
        back = x2 - COL_GAP // 2
        path = (
            f"M{x1},{y1} L{gap - 10},{y1} L{gap},{lane} L{back},{lane} L{back + 10},{y2} L{x2},{y2}"
        )
        slots = [(gap, y1), (back, y2)]  # after the source, or else before the target
    else:
        x2, y2 = target.right, target.middle
        reach = max(x1, x2) + COL_GAP // 2
        path = f"M{x1},{y1} C{reach},{y1} {reach},{y2} {x2},{y2}"
        slots = [(reach, (y1 + y2) // 2)]
    gap, label_y = _label_place(slots, taken)
    first, second = edge_label(edge)
    tooltip = (
        f"{edge.mineral}, {_period(edge)}, {'shared register' if edge.shared else 'this desk'}"
    )
    tooltip += "; evidence: " + ("; ".join(edge.evidence) if edge.evidence else "none")
    dash = "" if edge.shared else ' stroke-dasharray="6 3"'
    halo = 'stroke="#fff" stroke-width="3" paint-order="stroke"'
    return (
        f'<g class="edge"><title>{escape(tooltip)}</title>'
        f'<path d="{path}" fill="none" stroke="#555" stroke-width="1.4"{dash}'
        ' marker-end="url(#arrow)"/>'
        f'<text x="{gap}" y="{label_y - 3}" text-anchor="middle" font-size="9"'
        f' fill="#222" {halo}>{escape(first)}</text>'
        f'<text x="{gap}" y="{label_y + 8}" text-anchor="middle" font-size="9"'
        f' fill="#555" {halo}>{escape(second)}</text></g>'
    )


def _label_place(slots: list[tuple[int, int]], taken: dict[int, list[int]]) -> tuple[int, int]:
    """A place for an edge's label clear of every other: in the first of ``slots`` (a gap
    and a height) with room near that height, or else the nearest room in the first gap."""
    for gap, wanted in slots:
        found = _free_slot(taken.setdefault(gap, []), wanted, reach=ROW_PITCH * 3)
        if found is not None:
            return gap, found
    gap, wanted = slots[0]
    # Each of n labels blocks at most two candidate heights: there is room within 2n + 1.
    found = _free_slot(taken[gap], wanted, reach=LABEL_H * (2 * len(taken[gap]) + 2))
    return gap, wanted if found is None else found


def _free_slot(taken: list[int], wanted: int, *, reach: int) -> int | None:
    """The nearest height to ``wanted`` (within ``reach``) where a label overlaps none."""
    top = MARGIN + HEADER + LABEL_H // 2
    step = 0
    while step * LABEL_H // 2 <= reach:
        y = wanted + (step + 1) // 2 * LABEL_H * (1 if step % 2 else -1)
        if y >= top and all(abs(y - other) >= LABEL_H for other in taken):
            taken.append(y)
            return y
        step += 1
    return None


def _node(node: Node, box: Box, url: str, root: bool) -> str:
    fill = (
        FILLS["site"]
        if node.kind == "site"
        else FILLS["beside" if node.kind in BESIDE else "actor"]
    )
    kind = "mine site" if node.kind == "site" else node.kind.replace("_", " ")
    stroke = ' stroke="#000" stroke-width="2"' if root else ' stroke="#667"'
    # A nested <svg> clips what it holds: no name, however wide its letters, leaves its box.
    return (
        f'<a href="{escape(url)}" class="node"><title>{escape(f"{node.name} ({kind})")}</title>'
        f'<svg x="{box.x}" y="{box.y}" width="{NODE_W}" height="{NODE_H}">'
        f'<rect x="0.5" y="0.5" width="{NODE_W - 1}" height="{NODE_H - 1}" rx="4"'
        f' fill="{fill}"{stroke}/>'
        f'<text x="6" y="13">{escape(cut(node.name, NAME_CHARS))}</text>'
        f'<text x="6" y="25" font-size="9" fill="#444">{escape(kind)}</text></svg></a>'
    )
