"""JPEG: rebuild the file from the segments that make the picture; the pixels stay untouched.

A JPEG is a list of marked segments. We copy the ones that decode the picture (frame header,
quantisation and Huffman tables, restart interval, the scans with their entropy-coded data)
byte for byte, and rebuild the three harmless application segments we keep: JFIF (without
its thumbnail), the ICC colour profile (rebuilt by ``icc``) and Adobe's colour-transform flag
(it decides how CMYK/YCC pixels are decoded). Everything else is left behind: EXIF, XMP,
IPTC/Photoshop, multi-picture indexes, FlashPix, C2PA/JUMBF, maker segments, comments, and
anything after the end-of-image marker (a second picture such as a depth map, or a ZIP file
glued on as a polyglot).

When EXIF says the picture is stored sideways, dropping EXIF would turn it sideways, so we
re-encode it upright with Pillow at quality 95 (the only case where pixels change) and say so.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from PIL import Image, JpegImagePlugin

from intake.metadata import exif, icc, pictures
from intake.metadata.outcome import CannotClean, Output, Report

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
APP0, APP1, APP2, APP13, APP14, COM = 0xE0, 0xE1, 0xE2, 0xED, 0xEE, 0xFE
# Start-of-frame markers (all but DHT C4, JPG C8 and DAC CC in the C0-CF range).
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Segments copied as they are: tables and the restart interval.
TABLE_MARKERS = frozenset({0xC4, 0xCC, 0xDB, 0xDD})
RST_MARKERS = frozenset(range(0xD0, 0xD8))
ICC_TAG = b"ICC_PROFILE\x00"
ICC_CHUNK = 65535 - 2 - len(ICC_TAG) - 2
JPEG_INFO_KEYS = frozenset(
    {
        "jfif",
        "jfif_version",
        "jfif_unit",
        "jfif_density",
        "dpi",
        "icc_profile",
        "adobe",
        "adobe_transform",
        "progressive",
        "progression",
    }
)


@dataclass(frozen=True)
class Segment:
    """One marker segment; for SOS, ``raw`` includes the entropy-coded data after it."""

    marker: int
    raw: bytes

    @property
    def payload(self) -> bytes:
        """The bytes after the marker and its length field."""
        return self.raw[4:] if self.marker != SOS else b""


def split(data: bytes) -> tuple[list[Segment], bytes]:
    """The segments between SOI and EOI, and whatever follows EOI."""
    if not data.startswith(b"\xff\xd8"):
        raise CannotClean("the file is not a JPEG picture")
    segments: list[Segment] = []
    pos = 2
    while True:
        while pos < len(data) - 1 and data[pos] == 0xFF and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker
        if pos + 2 > len(data):
            raise CannotClean("the picture is cut short (it has no end)")
        if data[pos] != 0xFF:
            raise CannotClean("the picture is damaged (a segment is out of place)")
        marker = data[pos + 1]
        if marker == EOI:
            return segments, data[pos + 2 :]
        if marker in RST_MARKERS or marker in (SOI, 0x01, 0x00):
            raise CannotClean("the picture is damaged (a marker is out of place)")
        if pos + 4 > len(data):
            raise CannotClean("the picture is cut short (it has no end)")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise CannotClean("the picture is cut short (a segment is incomplete)")
        if marker == SOS:
            end = _end_of_scan(data, end)
        segments.append(Segment(marker, data[pos:end]))
        pos = end


def _end_of_scan(data: bytes, pos: int) -> int:
    """Where the entropy-coded data that starts at ``pos`` ends (at the next real marker)."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise CannotClean("the picture is cut short (its image data has no end)")
        following = data[pos + 1]
        if following == 0x00 or following in RST_MARKERS or following == 0xFF:
            pos += 1 if following == 0xFF else 2
            continue
        return pos


def clean(data: bytes, report: Report, *, orient: bool = True) -> Output:
    """A JPEG with only picture segments; upright when EXIF asked for a rotation."""
    segments, trailing = split(data)
    orientation = exif.describe(exif.read_tags(data), report)
    if not orient:
        orientation = 1  # a picture inside a document: its layout decides how it is shown
    profile = _describe_and_collect(segments, trailing, report)
    if profile is not None:
        profile = icc.sanitize(profile, report)
    cleaned = _assemble(segments, profile)
    if orientation != 1:
        cleaned = _reencode_upright(cleaned, orientation, profile)
        report.dropped(
            "orientation tag (the picture was turned upright, which re-encoded it "
            f"at JPEG quality {pictures.JPEG_QUALITY})"
        )
    verify(cleaned)
    return Output(cleaned, "image/jpeg", ".jpg")


def _describe_and_collect(segments: list[Segment], trailing: bytes, report: Report) -> bytes | None:
    """Report every segment we leave out; return the ICC profile's bytes, if any."""
    chunks: dict[int, bytes] = {}
    chunk_count = 0
    for segment in segments:
        marker, payload = segment.marker, segment.payload
        if marker == APP0 and payload.startswith(b"JFIF\x00"):
            if payload[12:14].strip(b"\x00"):
                report.saw_and_dropped("thumbnail")
        elif marker == APP0:
            report.saw_and_dropped("thumbnail" if payload.startswith(b"JFXX") else "APP0 data")
        elif marker == APP1:
            _describe_app1(payload, report)
        elif marker == APP2 and payload.startswith(ICC_TAG) and len(payload) > 14:
            chunks.setdefault(payload[12], payload[14:])
            chunk_count = payload[13]
        elif marker == APP2:
            label = "extra pictures (depth map, HDR)" if payload.startswith(b"MPF") else None
            report.saw_and_dropped(label or "camera data (APP2)")
        elif marker == APP13:
            report.saw_and_dropped("IPTC" if b"8BIM" in payload else "Photoshop data")
        elif marker == APP14 and payload.startswith(b"Adobe"):
            continue
        elif 0xE0 <= marker <= 0xEF:
            label = "content credentials (C2PA)" if marker == 0xEB else "application data"
            report.saw_and_dropped(f"{label} (APP{marker - 0xE0})")
        elif marker == COM:
            report.saw_and_dropped("comment")
    if trailing.strip(b"\x00"):
        report.saw_and_dropped("data after the end of the picture")
    if not chunks:
        return None
    if sorted(chunks) != list(range(1, chunk_count + 1)):
        report.saw_and_dropped("colour profile (incomplete, dropped)")
        return None
    return b"".join(chunks[i] for i in sorted(chunks))


def _describe_app1(payload: bytes, report: Report) -> None:
    if payload.startswith(b"Exif\x00"):
        report.saw_and_dropped("EXIF")  # details come from exifread
    elif payload.startswith((b"http://ns.adobe.com/xap/1.0/", b"http://ns.adobe.com/xmp")):
        report.saw_and_dropped("XMP")
    else:
        report.saw_and_dropped("application data (APP1)")


def _assemble(segments: list[Segment], profile: bytes | None) -> bytes:
    frames = [s for s in segments if s.marker in SOF_MARKERS]
    if len(frames) != 1 or not any(s.marker == SOS for s in segments):
        raise CannotClean("the picture has no image data we can recognise")
    out = bytearray(b"\xff\xd8")
    jfif = next(
        (s for s in segments if s.marker == APP0 and s.payload.startswith(b"JFIF\x00")), None
    )
    if jfif is not None and len(jfif.payload) >= 14:
        out += _segment(APP0, jfif.payload[:12] + b"\x00\x00")  # version, units, density
    if profile is not None:
        out += _icc_segments(profile)
    adobe = next(
        (s for s in segments if s.marker == APP14 and s.payload.startswith(b"Adobe")), None
    )
    if adobe is not None and len(adobe.payload) >= 12:
        out += _segment(APP14, adobe.payload[:12])  # version, flags, colour transform
    seen_frame = False
    for segment in segments:
        if segment.marker in SOF_MARKERS:
            seen_frame = True
        elif segment.marker == SOS and not seen_frame:
            raise CannotClean("the picture is damaged (image data before its header)")
        if (
            segment.marker in SOF_MARKERS
            or segment.marker in TABLE_MARKERS
            or (segment.marker == SOS)
        ):
            out += segment.raw
    out += b"\xff\xd9"
    return bytes(out)


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _icc_segments(profile: bytes) -> bytes:
    pieces = [profile[i : i + ICC_CHUNK] for i in range(0, len(profile), ICC_CHUNK)]
    if len(pieces) > 255:
        return b""
    return b"".join(
        _segment(APP2, ICC_TAG + bytes([n, len(pieces)]) + piece)
        for n, piece in enumerate(pieces, start=1)
    )


def _reencode_upright(data: bytes, orientation: int, profile: bytes | None) -> bytes:
    with pictures.reading_original():
        image = Image.open(io.BytesIO(data))
        pictures.check_size(image)
        sampling = JpegImagePlugin.get_sampling(image)
        image.load()
    turned = pictures.upright(image, orientation)
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": pictures.JPEG_QUALITY, "optimize": True}
    if sampling >= 0:
        options["subsampling"] = sampling
    if profile is not None:
        options["icc_profile"] = profile
    with pictures.checking_output():
        turned.save(buffer, "JPEG", **options)
    segments, _ = split(buffer.getvalue())
    return _assemble(segments, profile)


def verify(data: bytes) -> None:
    """Check a cleaned JPEG: only allowed segments, no EXIF, and it decodes whole."""
    segments, trailing = split(data)
    if trailing:
        raise CannotClean("the cleaned picture still has data after its end")
    for segment in segments:
        marker, payload = segment.marker, segment.payload
        allowed = (
            marker in SOF_MARKERS
            or marker in TABLE_MARKERS
            or marker == SOS
            or (marker == APP0 and payload.startswith(b"JFIF\x00") and len(payload) == 14)
            or (marker == APP2 and payload.startswith(ICC_TAG))
            or (marker == APP14 and payload.startswith(b"Adobe") and len(payload) == 12)
        )
        if not allowed:
            raise CannotClean("the cleaned picture still had a metadata segment")
    if exif.read_tags(data):
        raise CannotClean("the cleaned picture still had EXIF data")
    image = pictures.decode_all(data, "JPEG", draft=True)
    if not set(image.info) <= JPEG_INFO_KEYS:
        raise CannotClean("the cleaned picture still had metadata Pillow could read")
    profile = image.info.get("icc_profile")
    if profile and not icc.is_clean(profile):
        raise CannotClean("the cleaned picture's colour profile still had device details")
