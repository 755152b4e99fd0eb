"""WebP: rebuild the RIFF file from the picture chunks; fix the header flags and sizes.

Kept: VP8/VP8L (the picture), ALPH (transparency), ANIM/ANMF (animation; each frame is
rebuilt with only its picture chunks), VP8X (the extended header, with its EXIF and XMP
flags cleared) and ICCP (the colour profile, rebuilt by ``icc``). Left out: EXIF, XMP and
every unknown chunk.
"""

from __future__ import annotations

import io

from PIL import Image

from intake.metadata import exif, icc, pictures, riff
from intake.metadata.outcome import CannotClean, Output, Report

PICTURE = (b"VP8 ", b"VP8L", b"ALPH")
KEPT = frozenset((b"VP8X", b"ICCP", b"ANIM", b"ANMF", *PICTURE))
FLAG_ICC, FLAG_ALPHA, FLAG_EXIF, FLAG_XMP, FLAG_ANIMATION = 0x20, 0x10, 0x08, 0x04, 0x02
WEBP_INFO_KEYS = frozenset({"icc_profile", "loop", "duration", "background", "timestamp"})


def clean(data: bytes, report: Report) -> Output:
    """A WebP picture with only picture chunks; upright when its EXIF asked for a rotation."""
    found = riff.container(data, b"WEBP", report)
    orientation = 1
    profile: bytes | None = None
    body = bytearray()
    for fourcc, chunk_body in found:
        if fourcc == b"ICCP":
            profile = icc.sanitize(chunk_body, report)
        elif fourcc == b"EXIF":
            orientation = exif.describe(exif.read_exif_block(chunk_body), report)
        elif fourcc == b"XMP ":
            report.saw_and_dropped("XMP")
        elif fourcc == b"ANMF":
            body += riff.chunk(fourcc, _frame(chunk_body, report))
        elif fourcc in KEPT and fourcc != b"VP8X":
            body += riff.chunk(fourcc, chunk_body)
        elif fourcc != b"VP8X":
            report.saw_and_dropped(f"{fourcc.decode('latin-1').strip()} data")
    header = next((b for f, b in found if f == b"VP8X"), None)
    if header is not None:
        if len(header) < 10:
            raise CannotClean("the picture is damaged (its extended header is too short)")
        flags = header[0] & (FLAG_ALPHA | FLAG_ANIMATION) | (FLAG_ICC if profile else 0)
        prefix = riff.chunk(b"VP8X", bytes([flags, 0, 0, 0]) + header[4:10])
        body = bytearray(prefix + (riff.chunk(b"ICCP", profile) if profile else b"")) + body
    elif profile is not None:
        report.dropped("colour profile (a simple WebP cannot carry one)")
    cleaned = riff.wrap(b"WEBP", bytes(body))
    if orientation != 1:
        cleaned = _reencode_upright(cleaned, orientation, found)
        report.dropped("orientation tag (the picture was turned upright, which re-encoded it)")
    verify(cleaned)
    return Output(cleaned, "image/webp", ".webp")


def _frame(body: bytes, report: Report) -> bytes:
    if len(body) < 16:
        raise CannotClean("the picture is damaged (an animation frame is too short)")
    kept = bytearray(body[:16])  # position, size, duration and blending of the frame
    for fourcc, inner in riff.chunks(body, 16, len(body)):
        if fourcc in PICTURE:
            kept += riff.chunk(fourcc, inner)
        else:
            report.saw_and_dropped(f"{fourcc.decode('latin-1').strip()} data in a frame")
    return bytes(kept)


def _reencode_upright(data: bytes, orientation: int, found: list[tuple[bytes, bytes]]) -> bytes:
    lossless = any(fourcc == b"VP8L" for fourcc, _ in found)
    with pictures.reading_original():
        image = Image.open(io.BytesIO(data))
        pictures.check_size(image)
        if getattr(image, "is_animated", False):
            raise CannotClean("an animated WebP with a rotation tag cannot be turned upright")
        image.load()
    profile = image.info.get("icc_profile")
    turned = pictures.upright(image, orientation)
    buffer = io.BytesIO()
    options: dict[str, object] = {"lossless": lossless, "quality": 100 if lossless else 95}
    if profile:
        options["icc_profile"] = profile
    with pictures.checking_output():
        turned.save(buffer, "WEBP", exif=b"", xmp=b"", **options)
    return buffer.getvalue()


def verify(data: bytes) -> None:
    """Check a cleaned WebP: only picture chunks, clear flags, and it decodes whole."""
    found = riff.container(data, b"WEBP", Report())
    for fourcc, body in found:
        if fourcc not in KEPT:
            raise CannotClean("the cleaned picture still had a metadata chunk")
        if fourcc == b"VP8X" and body[0] & (FLAG_EXIF | FLAG_XMP):
            raise CannotClean("the cleaned picture still announced metadata")
        if fourcc == b"ANMF" and any(f not in PICTURE for f, _ in riff.chunks(body, 16, len(body))):
            raise CannotClean("the cleaned picture still had metadata in a frame")
        if fourcc == b"ICCP" and not icc.is_clean(body):
            raise CannotClean("the cleaned picture's colour profile still had device details")
    image = pictures.decode_all(data, "WEBP")
    if not set(image.info) <= WEBP_INFO_KEYS:
        raise CannotClean("the cleaned picture still had metadata Pillow could read")
