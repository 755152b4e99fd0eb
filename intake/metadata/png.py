"""PNG: copy the chunks that draw the picture, with their CRCs; leave every other chunk out.

Kept, and why:
- IHDR, PLTE, IDAT, IEND: the picture itself.
- tRNS: transparency; gAMA, cHRM, sRGB, cICP: how to show the colours (cICP for HDR).
- iCCP: the colour profile, rebuilt by ``icc`` with a neutral name.
- acTL, fcTL, fdAT: the frames of an animated PNG.
Left out: tEXt, zTXt, iTXt (author, software, comments, XMP), eXIf, tIME (when it was
saved), pHYs (print density: iPhone screenshots say 144 dpi, which narrows the device down
and is not needed to show the picture), sBIT, bKGD, hIST, sPLT (not needed to show it),
Apple's iDOT and every chunk we do not know. Nothing after IEND is kept.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from intake.metadata import exif, icc, pictures
from intake.metadata.limits import ICC_MAX_BYTES
from intake.metadata.outcome import CannotClean, Output, Report

SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEPT = frozenset(
    {
        b"IHDR",
        b"PLTE",
        b"IDAT",
        b"IEND",
        b"tRNS",
        b"gAMA",
        b"cHRM",
        b"sRGB",
        b"cICP",
        b"iCCP",
        b"acTL",
        b"fcTL",
        b"fdAT",
    }
)
LABELS = {
    b"tIME": "date and time saved",
    b"eXIf": "EXIF",
    b"pHYs": "print density",
    b"iDOT": "Apple layout data",
}
PNG_INFO_KEYS = frozenset(
    {
        "transparency",
        "gamma",
        "chromaticity",
        "srgb",
        "cicp",
        "icc_profile",
        "loop",
        "duration",
        "disposal",
        "blend",
        "default_image",
        "bbox",
    }
)
ICC_NAME = b"ICC Profile"


def chunks(data: bytes) -> tuple[list[tuple[bytes, bytes, bytes]], bytes]:
    """(type, data, raw chunk) for every chunk up to IEND, checked; and what follows IEND."""
    if not data.startswith(SIGNATURE):
        raise CannotClean("the file is not a PNG picture")
    found: list[tuple[bytes, bytes, bytes]] = []
    pos = len(SIGNATURE)
    while True:
        if pos + 12 > len(data):
            raise CannotClean("the picture is cut short (it has no end)")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            raise CannotClean("the picture is cut short (a chunk is incomplete)")
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(kind + body) != crc:
            raise CannotClean("the picture is damaged (a chunk fails its checksum)")
        found.append((kind, body, data[pos:end]))
        pos = end
        if kind == b"IEND":
            return found, data[pos:]


def clean(data: bytes, report: Report) -> Output:
    """A PNG with only picture chunks; upright when its EXIF asked for a rotation."""
    found, trailing = chunks(data)
    if not found or found[0][0] != b"IHDR":
        raise CannotClean("the picture is damaged (it does not start with a header)")
    out = bytearray(SIGNATURE)
    orientation = 1
    for kind, body, raw in found:
        if kind == b"iCCP":
            out += _profile_chunk(body, report)
        elif kind in KEPT:
            out += raw
        else:
            orientation = _describe(kind, body, report) or orientation
    if trailing:
        report.saw_and_dropped("data after the end of the picture")
    cleaned = bytes(out)
    if orientation != 1:
        cleaned = _reencode_upright(cleaned, orientation)
        report.dropped("orientation tag (the picture was turned upright; PNG stays lossless)")
    verify(cleaned)
    return Output(cleaned, "image/png", ".png")


def _describe(kind: bytes, body: bytes, report: Report) -> int:
    """Report a chunk we leave out; return the EXIF orientation if it is an eXIf chunk."""
    if kind in (b"tEXt", b"zTXt", b"iTXt"):
        keyword = body.split(b"\x00", 1)[0].decode("latin-1", "replace")
        label = "XMP" if keyword == "XML:com.adobe.xmp" else f"text ({keyword[:40]})"
        raw_profiles = {
            "raw profile type exif": "EXIF",
            "raw profile type app1": "EXIF",
            "raw profile type iptc": "IPTC",
            "raw profile type xmp": "XMP",
        }
        label = raw_profiles.get(keyword.lower(), label)
        report.saw_and_dropped(label)
        return 0
    if kind == b"eXIf":
        return exif.describe(exif.read_exif_block(body), report)
    report.saw_and_dropped(LABELS.get(kind, f"{kind.decode('latin-1')} data"))
    return 0


def _profile_chunk(body: bytes, report: Report) -> bytes:
    name, _, rest = body.partition(b"\x00")
    if not rest or rest[0] != 0:
        report.saw_and_dropped("colour profile (damaged, dropped)")
        return b""
    inflater = zlib.decompressobj()
    try:
        profile = inflater.decompress(rest[1:], ICC_MAX_BYTES + 1)
    except zlib.error:
        profile = b""
    if not profile or len(profile) > ICC_MAX_BYTES or not inflater.eof:
        report.saw_and_dropped("colour profile (damaged, dropped)")
        return b""
    if name != ICC_NAME:
        report.saw_and_dropped(f"colour profile name ({name.decode('latin-1')[:40]})")
    cleaned = icc.sanitize(profile, report)
    if cleaned is None:
        return b""
    return _chunk(b"iCCP", ICC_NAME + b"\x00\x00" + zlib.compress(cleaned, 9))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _reencode_upright(data: bytes, orientation: int) -> bytes:
    with pictures.reading_original():
        image = Image.open(io.BytesIO(data))
        pictures.check_size(image)
        if getattr(image, "is_animated", False):
            raise CannotClean("an animated PNG with a rotation tag cannot be turned upright")
        image.load()
    keep = {k: image.info[k] for k in ("transparency", "gamma", "icc_profile") if k in image.info}
    turned = pictures.upright(image, orientation)
    buffer = io.BytesIO()
    with pictures.checking_output():
        turned.save(buffer, "PNG", optimize=False, **keep)
    found, _ = chunks(buffer.getvalue())
    return SIGNATURE + b"".join(raw for kind, _, raw in found if kind in KEPT)


def verify(data: bytes) -> None:
    """Check a cleaned PNG: only kept chunks, a neutral profile, and it decodes whole."""
    found, trailing = chunks(data)
    if trailing or any(kind not in KEPT for kind, _, _ in found):
        raise CannotClean("the cleaned picture still had a metadata chunk")
    if exif.read_tags(data):
        raise CannotClean("the cleaned picture still had EXIF data")
    image = pictures.decode_all(data, "PNG")
    if not set(image.info) <= PNG_INFO_KEYS:
        raise CannotClean("the cleaned picture still had metadata Pillow could read")
    profile = image.info.get("icc_profile")
    if profile and not icc.is_clean(profile):
        raise CannotClean("the cleaned picture's colour profile still had device details")
