"""Read EXIF (read-only, with exifread) and describe what it gives away, in plain words.

Reading is for the report only: no cleaner copies anything from EXIF into a cleaned file.
The GPS position and capture time are handed back separately so that the pipeline can keep
them as sealed evidence fields, and only where the source consented (DESIGN.md §5).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from typing import Any

import exifread

from intake.metadata.outcome import Report

# exifread logs every oddity of every hostile file at WARNING; the report says what matters.
logging.getLogger("exifread").setLevel(logging.CRITICAL)

SERIAL_TAGS = ("SerialNumber", "CameraSerialNumber", "InternalSerialNumber")
OWNER_TAGS = {
    "EXIF CameraOwnerName": "owner",
    "Image Artist": "author",
    "Image XPAuthor": "author",
    "Image Copyright": "copyright",
}
SOFTWARE_TAGS = {
    "Image Software": "software",
    "Image ProcessingSoftware": "software",
    "Image HostComputer": "computer name",
}
TEXT_TAGS = (
    "Image ImageDescription",
    "EXIF UserComment",
    "Image XPComment",
    "Image XPTitle",
    "Image XPSubject",
    "Image XPKeywords",
)
_DATE = re.compile(r"(\d{4})[:-](\d\d)[:-](\d\d)[ T](\d\d):(\d\d):(\d\d)")
_OFFSET = re.compile(r"^[+-]\d\d:\d\d$")


def read_tags(data: bytes) -> dict[str, Any]:
    """EXIF tags of a JPEG, TIFF, PNG or WebP file or of a bare TIFF-format EXIF block."""
    try:
        tags: dict[str, Any] = exifread.process_file(io.BytesIO(data), details=True)
    except Exception:  # noqa: BLE001 - exifread raises anything on hostile data; report only
        return {"unreadable": True}
    return tags


def read_exif_block(block: bytes) -> dict[str, Any]:
    """EXIF tags of an EXIF block as stored in PNG, WebP and HEIF (with or without 'Exif\\0\\0')."""
    if block.startswith(b"Exif\x00\x00"):
        block = block[6:]
    return read_tags(block) if block[:4] in (b"II*\x00", b"MM\x00*") else {"unreadable": True}


def describe(tags: dict[str, Any], report: Report, *, pages: bool = False) -> int:
    """Add what the tags give away to ``report``; return the EXIF orientation (1 if none).

    ``pages``: the tags come from a TIFF file, whose second directory is a page, not a
    thumbnail.
    """
    if not tags:
        return 1
    report.saw_and_dropped("EXIF")
    if "unreadable" in tags:
        return 1
    _camera(tags, report)
    _gps(tags, report)
    _capture_time(tags, report)
    _people_and_software(tags, report)
    if any(k.startswith(("MakerNote", "EXIF MakerNote")) for k in tags):
        report.saw_and_dropped("maker notes")
    if "JPEGThumbnail" in tags or (not pages and any(k.startswith("Thumbnail ") for k in tags)):
        report.saw_and_dropped("thumbnail")
    if "EXIF ImageUniqueID" in tags:
        report.saw_and_dropped("unique image id")
    if any(_text(tags.get(k)) for k in TEXT_TAGS):
        report.saw_and_dropped("description or comment")
    values = _values(tags.get("Image Orientation"))
    orientation = values[0] if values and isinstance(values[0], int) else 1
    return orientation if 1 <= orientation <= 8 else 1


def _camera(tags: dict[str, Any], report: Report) -> None:
    make, model = _text(tags.get("Image Make")), _text(tags.get("Image Model"))
    if make or model:
        name = model if make and model.lower().startswith(make.lower()) else f"{make} {model}"
        report.saw_and_dropped(f"camera make and model ({name.strip()})")
    lens = _text(tags.get("EXIF LensModel")) or _text(tags.get("EXIF LensMake"))
    if lens:
        report.saw_and_dropped(f"lens ({lens})")
    serials = sorted({_text(v) for k, v in tags.items() if k.endswith(SERIAL_TAGS) and _text(v)})
    if serials:
        report.saw_and_dropped(f"serial number ({', '.join(serials)})")


def _people_and_software(tags: dict[str, Any], report: Report) -> None:
    for key, label in (OWNER_TAGS | SOFTWARE_TAGS).items():
        value = _text(tags.get(key))
        if value:
            report.saw_and_dropped(f"{label} ({value})")


def _gps(tags: dict[str, Any], report: Report) -> None:
    if not any(k.startswith("GPS ") and k != "GPS GPSVersionID" for k in tags):
        return
    lat = _degrees(tags.get("GPS GPSLatitude"), _text(tags.get("GPS GPSLatitudeRef")), 90)
    lon = _degrees(tags.get("GPS GPSLongitude"), _text(tags.get("GPS GPSLongitudeRef")), 180)
    if lat is not None and lon is not None:
        report.location = (lat, lon)
        report.saw_and_dropped("GPS position")
    else:
        report.saw_and_dropped("GPS data")


def _degrees(tag: Any, ref: str, limit: float) -> float | None:
    parts = _values(tag)
    if len(parts) != 3:
        return None
    try:
        d, m, s = (float(p) for p in parts)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if ref.upper().startswith(("S", "W")):
        value = -value
    return round(value, 7) if -limit <= value <= limit else None


def _capture_time(tags: dict[str, Any], report: Report) -> None:
    for key, offset_key in (
        ("EXIF DateTimeOriginal", "EXIF OffsetTimeOriginal"),
        ("EXIF DateTimeDigitized", "EXIF OffsetTimeDigitized"),
        ("Image DateTime", "EXIF OffsetTime"),
    ):
        when = parse_time(_text(tags.get(key)), _text(tags.get(offset_key)))
        if when:
            report.taken_at = report.taken_at or when
    if any(k.endswith(("DateTimeOriginal", "DateTimeDigitized", "Image DateTime")) for k in tags):
        label = f"date and time taken ({report.taken_at})" if report.taken_at else "dates"
        report.saw_and_dropped(label)


def parse_time(text: str, offset: str = "") -> str | None:
    """ISO 8601 text for an EXIF-style date ("2024:05:01 10:20:30"), or None if invalid."""
    match = _DATE.search(text)
    if not match:
        return None
    try:
        year, month, day, hour, minute, second = (int(g) for g in match.groups())
        when = dt.datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - local time
    except ValueError:
        return None
    iso = when.isoformat()
    return iso + offset if _OFFSET.match(offset) else iso


def _values(tag: Any) -> list[Any]:
    values = getattr(tag, "values", None)
    if isinstance(values, list):
        return values
    return [] if values is None else [values]


def _text(tag: Any) -> str:
    """A tag's printable value, cleaned of padding, or "" when empty."""
    if tag is None:
        return ""
    value = getattr(tag, "printable", tag)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).replace("\x00", "").strip()
    if text in ("", "[]", "0") or set(text) <= {" ", "\x00"}:
        return ""
    return text[:80]
