"""Rebuild an ICC colour profile from the parts that define colours, and nothing else.

A colour profile is needed to show a picture's colours right (a Display P3 photo looks dull
without one), but its header and text tags can name the device, its maker, the software and a
date: a profile made for one scanner or one calibrated screen can point to one machine. So we
keep the header fields and tags that define colour, zero the rest of the header, and write a
neutral description and copyright (both are required tags). The result must load in
LittleCMS (through Pillow's ImageCms), or we drop the profile: colours a little off are better
than a profile we could not check.
"""

from __future__ import annotations

import io
import struct

from PIL import ImageCms

from intake.metadata.limits import ICC_MAX_BYTES
from intake.metadata.outcome import Report

# Tags that define colour or how to convert it; everything else (desc, cprt, dmnd, dmdd,
# Apple's mmod and dscm, meta, vcgt calibration, targ, calt, colorant and colour names) goes.
COLOUR_TAGS = frozenset(
    sig.encode("ascii")
    for sig in [
        "rXYZ",
        "gXYZ",
        "bXYZ",
        "wtpt",
        "bkpt",
        "rTRC",
        "gTRC",
        "bTRC",
        "kTRC",
        "chad",
        "chrm",
        "gamt",
        "cicp",
        "lumi",
        "meas",
        "view",
        "A2B0",
        "A2B1",
        "A2B2",
        "A2B3",
        "B2A0",
        "B2A1",
        "B2A2",
        "B2A3",
        "D2B0",
        "D2B1",
        "D2B2",
        "D2B3",
        "B2D0",
        "B2D1",
        "B2D2",
        "B2D3",
        "ciis",
        "rig0",
        "rig2",
        "pre0",
        "pre1",
        "pre2",
    ]
)
DEVICE_TAGS = frozenset((b"dmnd", b"dmdd", b"mmod", b"DevD"))
HEADER_SIZE = 128
MAX_TAGS = 200
DESCRIPTION = "ICC profile"


class BadProfile(Exception):
    """The bytes are not an ICC profile we can rebuild."""


def sanitize(profile: bytes, report: Report) -> bytes | None:
    """A rebuilt copy of ``profile`` with only its colour definition, or None to drop it."""
    try:
        cleaned, had_device = _rebuild(profile)
        ImageCms.ImageCmsProfile(io.BytesIO(cleaned))
    except (BadProfile, OSError, ValueError, TypeError, struct.error):
        report.saw_and_dropped("colour profile (damaged, dropped)")
        return None
    report.dropped("colour profile description")
    if had_device:
        report.saw_and_dropped("device make and model in the colour profile")
    return cleaned


def is_clean(profile: bytes) -> bool:
    """Whether a profile is one we rebuilt: a zeroed header and only colour tags."""
    if len(profile) < HEADER_SIZE + 4 or _header(profile) != profile[:HEADER_SIZE]:
        return False
    (count,) = struct.unpack(">I", profile[128:132])
    if 132 + 12 * count > len(profile):
        return False
    neutral = {
        b"desc": _text_tag(DESCRIPTION, profile[8], description=True),
        b"cprt": _text_tag("", profile[8], description=False),
    }
    for i in range(count):
        sig, offset, size = struct.unpack(">4sII", profile[132 + 12 * i : 144 + 12 * i])
        if sig in neutral and profile[offset : offset + size] != neutral[sig]:
            return False
        if sig not in COLOUR_TAGS and sig not in neutral:
            return False
    return True


def _rebuild(profile: bytes) -> tuple[bytes, bool]:
    if len(profile) < HEADER_SIZE + 4 or len(profile) > ICC_MAX_BYTES:
        raise BadProfile("size")
    if profile[36:40] != b"acsp":
        raise BadProfile("signature")
    declared = struct.unpack(">I", profile[:4])[0]
    end = min(declared, len(profile))
    (count,) = struct.unpack(">I", profile[128:132])
    if count > MAX_TAGS or 132 + 12 * count > end:
        raise BadProfile("tag table")
    kept: list[tuple[bytes, bytes]] = []
    had_device = profile[48:56] != b"\x00" * 8
    for i in range(count):
        sig, offset, size = struct.unpack(">4sII", profile[132 + 12 * i : 144 + 12 * i])
        if offset + size > end or size < 8:
            raise BadProfile("tag outside the profile")
        had_device |= sig in DEVICE_TAGS
        if sig in COLOUR_TAGS:
            kept.append((sig, profile[offset : offset + size]))
    version = profile[8]
    kept.append((b"desc", _text_tag(DESCRIPTION, version, description=True)))
    kept.append((b"cprt", _text_tag("", version, description=False)))
    return _assemble(_header(profile), kept), had_device


def _header(profile: bytes) -> bytearray:
    header = bytearray(profile[:HEADER_SIZE])
    for start, stop in (
        (4, 8),  # preferred CMM
        (24, 36),  # creation date and time
        (40, 44),  # platform
        (48, 64),  # device manufacturer, model and attributes
        (80, 128),  # creator, profile ID (zero: "not computed"), reserved
    ):
        header[start:stop] = bytes(stop - start)
    return header


def _assemble(header: bytearray, tags: list[tuple[bytes, bytes]]) -> bytes:
    table_size = 4 + 12 * len(tags)
    offset = HEADER_SIZE + table_size
    table = bytearray(struct.pack(">I", len(tags)))
    body = bytearray()
    placed: dict[bytes, int] = {}  # tags may share data: write each block once
    for sig, data in tags:
        if data not in placed:
            placed[data] = offset + len(body)
            body += data + bytes(-len(data) % 4)
        table += struct.pack(">4sII", sig, placed[data], len(data))
    result = header + table + body
    result[:4] = struct.pack(">I", len(result))
    return bytes(result)


def _text_tag(text: str, version: int, *, description: bool) -> bytes:
    if version >= 4:
        utf16 = text.encode("utf-16-be")
        return (
            b"mluc"
            + struct.pack(">IIIII", 0, 1, 12, 0x656E5553, len(utf16))
            + (struct.pack(">I", 28) + utf16)
        )
    ascii_text = text.encode("ascii") + b"\x00"
    if not description:
        return b"text" + bytes(4) + ascii_text
    return (
        b"desc"
        + bytes(4)
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + bytes(4 + 4 + 2 + 1 + 67)  # no Unicode or ScriptCode description
    )
