"""Choose the cleaner for a file by its real format and turn every failure into a reason.

This runs inside the worker process (``worker.py``); unit tests call ``clean_bytes``
directly to test the format cleaners without paying for a process per file.
"""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from intake.metadata import (
    gif,
    heif,
    jpeg,
    media,
    office,
    pdf,
    pictures,
    png,
    riff,
    tiff,
    webp,
)
from intake.metadata.families import FAMILIES, Family, family_named
from intake.metadata.limits import CLEAN_MAX_BYTES, MAX_OUTPUT_BYTES, MAX_PIXELS
from intake.metadata.outcome import CannotClean, Outcome, Output, Report, Status
from intake.metadata.sniff import Detected, detect

Cleaner = Callable[[bytes, Report, Detected], Output]

CLEANERS: dict[str, Cleaner] = {
    "jpeg": lambda data, report, _: jpeg.clean(data, report),
    "png": lambda data, report, _: png.clean(data, report),
    "gif": lambda data, report, _: gif.clean(data, report),
    "webp": lambda data, report, _: webp.clean(data, report),
    "tiff": lambda data, report, _: tiff.clean(data, report),
    "heif": lambda data, report, _: heif.clean(data, report),
    "pdf": lambda data, report, _: pdf.clean(data, report),
    "wav": lambda data, report, _: riff.clean_wav(data, report),
    **dict.fromkeys(office.FAMILIES, office.clean),
    **dict.fromkeys(media.FAMILIES, media.clean),
}
# Why we give up on the families we recognise but cannot clean.
REFUSALS = {
    "raw": "camera raw files cannot be cleaned; send a JPEG exported from the camera instead",
    "legacy-office": "old Office files (.doc, .xls, .ppt) cannot be cleaned; save the file "
    "as .docx, .xlsx or .pptx, or as PDF, and send that",
    "rtf": "RTF documents cannot be cleaned; save the file as .docx or PDF and send that",
    "zip": "archives cannot be cleaned; send the files in it one by one",
    "markup": "HTML, XML and SVG files can hide metadata we cannot remove; send a PDF or a "
    "screenshot instead",
    "unknown": "we cannot clean this kind of file",
}
# Families a name or declared type may point to without a mismatch being worth noting.
SAME = ({"mp4", "m4a"}, {"text", "markup"})


def clean_bytes(data: bytes, *, filename: str, declared_type: str) -> Outcome:
    """Clean one file in this process; never raises for bad input."""
    pictures.configure()
    try:
        detected = detect(data)
    except Exception:  # noqa: BLE001 - a ZIP directory can fail in many ways: unknown file
        detected = Detected(FAMILIES["unknown"])
    family = detected.family
    report = Report()
    _note_mismatch(family, family_named(filename, declared_type), report)
    if len(data) > CLEAN_MAX_BYTES:
        return _refused(family, report, "the file is too large to clean in memory")
    if family.name == "text":
        return Outcome(
            "nothing_to_clean",
            b"",
            "text/plain",
            None,
            "text",
            report.found,
            report.removed,
            None,
            None,
            None,
        )
    cleaner = CLEANERS.get(family.name)
    if cleaner is None:
        named = family_named(filename, declared_type)
        reason = REFUSALS.get(family.name, REFUSALS["unknown"])
        if detected.variant == "damaged":
            reason = "the file is damaged (its ZIP structure cannot be read)"
        if family.name == "unknown" and named is not None and named.name in CLEANERS:
            reason = f"the file is not a {named.label} we can read, although its name says so"
        return _refused(family, report, reason)
    try:
        output = cleaner(data, report, detected)
    except CannotClean as error:
        return _refused(family, report, str(error))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = MAX_PIXELS // 1_000_000
        return _refused(
            family,
            report,
            f"the picture is too large to clean safely (over "
            f"{limit} megapixels, or a decompression bomb)",
        )
    except MemoryError:
        return _refused(family, report, "the file needs more memory to clean than we allow")
    except RecursionError:
        return _refused(family, report, "the file is nested too deeply to clean")
    except Exception as error:  # noqa: BLE001 - any parser failure on hostile input: flag it
        reason = f"the file is damaged or uses a variant we cannot read ({type(error).__name__})"
        return _refused(family, report, reason)
    return _finished(data, output, family, filename, report)


def _finished(
    data: bytes, output: Output, family: Family, filename: str, report: Report
) -> Outcome:
    if len(output.data) > MAX_OUTPUT_BYTES:
        return _refused(family, report, "the cleaned file would be too large")
    status: Status = "nothing_to_clean" if output.data == data else "cleaned"
    kind = family.kind
    if family.name in media.FAMILIES:
        kind = "audio" if output.media_type.startswith("audio/") else "video"
    return Outcome(
        status,
        output.data if status == "cleaned" else b"",
        output.media_type,
        _new_extension(filename, output, family),
        kind,
        report.found,
        report.removed,
        report.location,
        report.taken_at,
        None,
    )


def _refused(family: Family, report: Report, reason: str) -> Outcome:
    return Outcome(
        "not_cleaned",
        b"",
        family.media_type,
        None,
        family.kind,
        report.found,
        [],
        report.location,
        report.taken_at,
        reason,
    )


def _new_extension(filename: str, output: Output, family: Family) -> str | None:
    """The extension the cleaned file should carry, when the name's does not fit it."""
    dot = filename.rfind(".")
    current = filename[dot:].lower() if dot >= 0 else ""
    fits = {output.extension}
    if output.media_type in (family.media_type, *family.other_media_types):
        fits |= {family.extension, *family.other_extensions}
    return None if current in fits else output.extension


def _note_mismatch(real: Family, named: Family | None, report: Report) -> None:
    if named is None or named.name == real.name:
        return
    if any({named.name, real.name} <= group for group in SAME):
        return
    if real.name == "unknown":
        return  # said in the reason instead
    report.saw(f"the file's name or type says {named.label}, but it is a {real.label}")


__all__ = ["FAMILIES", "clean_bytes"]
