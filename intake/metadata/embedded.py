"""Pictures and media inside documents: a photo pasted into a Word file keeps its GPS position.

Each embedded file goes through the cleaner of its real format. JPEG orientation is not
applied here: inside a document the layout decides how a picture is turned. Vector pictures
(EMF) have their description text blanked; WMF carries none. Anything else we cannot clean
makes the whole document not clean.
"""

from __future__ import annotations

import struct

from intake.metadata import gif, jpeg, media, png, tiff, webp
from intake.metadata.outcome import CannotClean, Output, Report
from intake.metadata.sniff import detect

EMF_HEADER = 1
WMF_PLACEABLE = b"\xd7\xcd\xc6\x9a"


def clean(data: bytes, name: str, report: Report) -> bytes:
    """The cleaned bytes of one embedded file; what it carried is added to ``report``."""
    inner = Report()
    output = _clean(data, name, inner)
    for item in inner.found:
        report.saw_and_dropped(f"{item} (in {name.rpartition('/')[2]})")
    if inner.location and report.location is None:
        report.location = inner.location
    if inner.taken_at and report.taken_at is None:
        report.taken_at = inner.taken_at
    return output.data


def _clean(data: bytes, name: str, report: Report) -> Output:
    family = detect(data).family.name
    if family == "jpeg":
        return jpeg.clean(data, report, orient=False)
    images = {"png": png.clean, "gif": gif.clean, "webp": webp.clean, "tiff": tiff.clean}
    if family in images:
        return images[family](data, report)
    if family in media.FAMILIES:
        return media.clean(data, report, detect(data))
    if _is_emf(data):
        return Output(_blank_emf_description(data, report), "image/emf", ".emf")
    if data.startswith(b"VCLMTF"):
        return Output(data, "image/x-svm", ".svm")  # LibreOffice's own preview of an object
    if data.startswith(WMF_PLACEABLE) or data[:4] in (b"\x01\x00\x09\x00", b"\x02\x00\x09\x00"):
        return Output(data, "image/wmf", ".wmf")
    raise CannotClean(f"the document contains a file we cannot clean ({name})")


def _is_emf(data: bytes) -> bool:
    return (
        len(data) >= 88
        and struct.unpack("<I", data[:4])[0] == EMF_HEADER
        and (data[40:44] == b" EMF")
    )


def _blank_emf_description(data: bytes, report: Report) -> bytes:
    """Zero the EMF header's description (application and picture name, in UTF-16)."""
    count, offset = struct.unpack("<II", data[60:68])  # nDescription, offDescription
    if count == 0:
        return data
    end = offset + 2 * count
    (header_size,) = struct.unpack("<I", data[4:8])
    if offset < 88 or end > header_size or end > len(data):
        raise CannotClean("the document contains a damaged vector picture")
    report.saw_and_dropped("vector picture description")
    return data[:offset] + bytes(end - offset) + data[end:]
