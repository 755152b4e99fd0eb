"""``report.pdf``: the case report a reader of a dossier opens first, drawn with fpdf2.

Names in French, Dutch and Swahili (é, ï, ŋ, …) must come out as written, so the text is set
in DejaVu Sans, embedded from Debian's ``fonts-dejavu-core``, not in a core PDF font that
knows only Latin-1. Thumbnails are the small JPEG/PNG previews the intake's sandboxed worker
re-rendered (never a source's own file), so the only picture fpdf2 parses here is one we
drew ourselves.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from casework.risks import risk_label
from crypto.keys import format_fingerprint
from filon.errors import FilonError

if TYPE_CHECKING:
    from casework.dossier.export import ExportPlan, PlannedFile

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = "DejaVu"
THUMBNAIL_MM = 35
LINE_MM = 5.5


class ReportFontMissing(FilonError):
    """DejaVu Sans is not installed (Debian package ``fonts-dejavu-core``)."""


class _Report(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.cell(0, 6, f"Page {self.page_no()}/{{nb}}", align="C")


def render_report(
    plan: ExportPlan, *, hashes: dict[int, str], thumbnails: dict[int, bytes], fingerprint: str
) -> bytes:
    """The report's PDF bytes."""
    pdf = _new_pdf()
    pdf.set_title(f"Case {plan.case['id']}: {plan.case['title']}")
    pdf.set_author(plan.user)
    pdf.add_page()
    _heading(pdf, f"Case {plan.case['id']}: {plan.case['title']}", size=16)
    _text(
        pdf,
        f"Desk {plan.desk_name} ({plan.desk_slug}). Exported by {plan.user}. Signing key "
        f"fingerprint: {format_fingerprint(fingerprint)}",
        size=9,
    )
    _summary(pdf, plan)
    _timeline(pdf, plan)
    _evidence(pdf, plan, hashes, thumbnails)
    _answers(pdf, plan)
    _locations(pdf, plan)
    _custody(pdf, plan)
    _supply_chain(pdf, plan)
    return bytes(pdf.output())


def _new_pdf() -> FPDF:
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    if not (regular.is_file() and bold.is_file()):
        raise ReportFontMissing(f"install fonts-dejavu-core: {regular} is missing")
    pdf = _Report(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_font(FONT, "", str(regular))
    pdf.add_font(FONT, "B", str(bold))
    pdf.set_font(FONT, "", 10)
    return pdf


def _heading(pdf: FPDF, text: str, *, size: int = 13) -> None:
    pdf.ln(2)
    if pdf.will_page_break(20):  # no heading alone at the foot of a page
        pdf.add_page()
    pdf.set_font(FONT, "B", size)
    pdf.multi_cell(0, size * 0.55, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 10)
    pdf.ln(1)


def _text(pdf: FPDF, text: str, *, size: int = 10, bold: bool = False) -> None:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.multi_cell(0, LINE_MM * size / 10, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 10)


def _field(pdf: FPDF, label: str, value: str) -> None:
    _text(pdf, f"{label}: {value or '—'}")


def _summary(pdf: FPDF, plan: ExportPlan) -> None:
    case = plan.case
    _heading(pdf, "Summary")
    _field(pdf, "Status", case["status"])
    _field(pdf, "Priority", case["priority"])
    _field(pdf, "Assignee", case["assignee"] or "nobody")
    _field(pdf, "Minerals", ", ".join(case["minerals"]) or "none")
    risks = [f"{risk_label(code)} ({code})" for code in case["risk_categories"]]
    _field(pdf, "OECD Annex II risk categories", "; ".join(risks) or "none")
    _field(pdf, "Tags", ", ".join(case["tags"]) or "none")
    if case.get("merged_into"):
        _field(pdf, "Merged into case", str(case["merged_into"]))
    _text(pdf, "Summary:", bold=True)
    _text(pdf, case["summary"] or "—")


def _timeline(pdf: FPDF, plan: ExportPlan) -> None:
    _heading(pdf, "Timeline")
    if not plan.timeline:
        _text(pdf, "No recorded changes.")
    for event in plan.timeline:
        details = json.loads(event["details"]) if isinstance(event["details"], str) else {}
        details.pop("case", None)
        shown = ", ".join(f"{k}: {_plain(v)}" for k, v in sorted(details.items()))
        actor = str(event["actor"]).removeprefix("user:")
        _text(pdf, f"{event['at']}  {actor}  {event['action']}" + (f" ({shown})" if shown else ""))


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k} {_plain(v)}" for k, v in sorted(value.items()))
    return str(value)


def _evidence(
    pdf: FPDF, plan: ExportPlan, hashes: dict[int, str], thumbnails: dict[int, bytes]
) -> None:
    _heading(pdf, "Evidence")
    for planned in plan.files:
        _evidence_item(pdf, planned, hashes[planned.evidence_id])
        thumbnail = thumbnails.get(planned.evidence_id)
        if thumbnail is not None:
            if pdf.will_page_break(THUMBNAIL_MM + 2):
                pdf.add_page()
            pdf.image(io.BytesIO(thumbnail), w=THUMBNAIL_MM)
        pdf.ln(3)


def _evidence_item(pdf: FPDF, planned: PlannedFile, sha256: str) -> None:
    _text(pdf, planned.path, bold=True)
    _text(
        pdf,
        f"From submission {planned.reference}, file {planned.number}"
        + (f" ({planned.name})" if planned.name else "")
        + f"; {planned.kind}; {planned.size:,} bytes; cleaning: {planned.cleaning_status}",
        size=9,
    )
    _text(pdf, f"SHA-256: {sha256}", size=8)
    if planned.original_sha256:
        _text(pdf, f"SHA-256 as received: {planned.original_sha256}", size=8)


def _answers(pdf: FPDF, plan: ExportPlan) -> None:
    _heading(pdf, "Answers of the sources")
    if not plan.options.include_answers:
        _text(pdf, "Left out of this dossier.")
        return
    for submission in plan.submissions:
        _text(
            pdf,
            f"{submission.reference} (received {submission.received_hour:%Y-%m-%d %H}:00 "
            f"UTC, language {submission.lang or 'unknown'})",
            bold=True,
        )
        if not submission.answers:
            _text(pdf, "No answers.")
        for name, value in submission.answers.items():
            _text(pdf, f"{name}: {value}")
        pdf.ln(2)


def _locations(pdf: FPDF, plan: ExportPlan) -> None:
    _heading(pdf, "Locations")
    precision = plan.options.location_precision
    if precision is None:
        _text(pdf, "Consented locations were left out of this dossier.")
        return
    located = [f for f in plan.files if f.location is not None]
    if not located:
        _text(pdf, "No file carries a location its source consented to share.")
        return
    _text(pdf, f"Consented locations, rounded to {precision} decimal places:", size=9)
    for planned in located:
        assert planned.location is not None  # noqa: S101 - filtered just above
        lat, lon = planned.location
        _text(pdf, f"{planned.path}: {lat:.{precision}f}, {lon:.{precision}f}")


def _custody(pdf: FPDF, plan: ExportPlan) -> None:
    _heading(pdf, "Chain of custody")
    _text(
        pdf,
        "Each submission's events are hash-chained; manifest.json holds them in full for each "
        "file.",
        size=9,
    )
    for submission in plan.submissions:
        events = submission.custody
        actions = ", ".join(str(e["action"]) for e in events)
        _text(pdf, f"{submission.reference}: {len(events)} events ({actions})")
        if events:
            _text(pdf, f"Last event hash: {events[-1]['hash']}", size=8)


def _supply_chain(pdf: FPDF, plan: ExportPlan) -> None:
    places = plan.places
    _heading(pdf, "Supply-chain links")
    if not places.chain_links:
        _text(pdf, "None recorded yet: no chain link is supported by this case's evidence.")
    for link in places.chain_links:
        start, end = link["period_start"] or "…", link["period_end"] or "…"
        register = "shared register" if link["shared"] else "this desk"
        _text(pdf, f"{link['from_name']} → {link['to_name']}", bold=True)
        _text(pdf, f"{link['mineral']}, {start} to {end} ({register}, link {link['id']})", size=9)
        evidence = "; ".join(link["evidence"]) or "none in this dossier"
        _text(pdf, f"Evidence: {evidence}", size=9)
        pdf.ln(1)
    if places.sites or places.actors:
        sites = [
            f"{f['properties']['name']} ({f['properties']['external_id']})" for f in places.sites
        ]
        actors = [f"{a['name']} ({a['kind']})" for a in places.actors]
        _field(pdf, "Mine sites", "; ".join(sites) or "none")
        _field(pdf, "Actors", "; ".join(actors) or "none")
    _text(
        pdf,
        f"data/ holds them as GeoJSON and CSV: {len(places.sites)} mine sites, "
        f"{len(places.geotags)} geotags, {len(places.chain_links)} chain links.",
        size=9,
    )
