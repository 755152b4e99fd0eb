"""Tell what a file really is from its first bytes, never from its name or declared type.

A source's browser reports whatever type the phone guessed, and a hostile sender can claim
anything; the cleaner for a format is chosen only by what the bytes are.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

from intake.metadata.families import FAMILIES, Family

HEIF_BRANDS = {
    b"heic",
    b"heix",
    b"heim",
    b"heis",
    b"hevc",
    b"hevx",
    b"hevm",
    b"hevs",
    b"mif1",
    b"msf1",
    b"mif2",
    b"avif",
    b"avis",
}
RAW_BRANDS = {b"crx "}  # Canon CR3 is ISO BMFF
AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
ODF_TYPES = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/vnd.oasis.opendocument.presentation": "odp",
}
OOXML_MAIN_PARTS = {
    "word/document.xml": "docx",
    "xl/workbook.xml": "xlsx",
    "ppt/presentation.xml": "pptx",
}
# Control characters that never appear in a text a person wrote (tab, newlines and form
# feed do).
_BINARY_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Detected:
    """The family a file belongs to, and the container variant where it matters."""

    family: Family
    variant: str = ""  # "mov", "webm", "bigtiff", ... ("" when the family says it all)


def detect(data: bytes) -> Detected:
    """The family of ``data`` judged by its magic bytes alone."""
    head = data[:64]
    for test in (_images, _riff, _iso_bmff, _documents, _audio_video):
        found = test(data, head)
        if found is not None:
            return found
    return Detected(FAMILIES["text"]) if _is_text(data) else _markup_or_unknown(data)


def _is(name: str, variant: str = "") -> Detected:
    return Detected(FAMILIES[name], variant)


def _images(data: bytes, head: bytes) -> Detected | None:
    if head.startswith(b"\xff\xd8\xff"):
        return _is("jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _is("png")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return _is("gif")
    if head.startswith((b"II*\x00", b"MM\x00*")):
        # Canon CR2 is a TIFF with "CR" after the header; other raws are told apart later.
        return _is("raw") if head[8:10] == b"CR" else _is("tiff")
    if head.startswith((b"II+\x00", b"MM\x00+")):
        return _is("tiff", "bigtiff")
    if head.startswith((b"IIRO", b"IIU\x00", b"FUJIFILMCCD-RAW")):
        return _is("raw")
    return None


def _riff(data: bytes, head: bytes) -> Detected | None:
    if not head.startswith(b"RIFF") or len(head) < 12:
        return None
    form = head[8:12]
    if form == b"WEBP":
        return _is("webp")
    if form == b"WAVE":
        return _is("wav")
    if form == b"AVI ":
        return _is("avi")
    return None


def _iso_bmff(data: bytes, head: bytes) -> Detected | None:
    box = head[4:8]
    if box in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return _is("mp4", "mov")  # QuickTime files from before ftyp
    if box != b"ftyp" or len(head) < 12:
        return None
    size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    brands = {major} | {data[i : i + 4] for i in range(16, min(size, 256), 4)}
    if major in RAW_BRANDS:
        return _is("raw")
    if major in HEIF_BRANDS or (
        brands & HEIF_BRANDS and not brands & {b"isom", b"mp41", b"mp42", b"qt  "}
    ):
        return _is("heif")
    if major in AUDIO_BRANDS:
        return _is("m4a")
    return _is("mp4", "mov" if major == b"qt  " else "mp4")


def _documents(data: bytes, head: bytes) -> Detected | None:
    if b"%PDF-" in data[:1024]:
        return _is("pdf")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _is("legacy-office")
    if head.startswith(b"{\\rtf"):
        return _is("rtf")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(data)
    if head.startswith((b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07", b"\x1f\x8b")):
        return _is("zip")
    return None


def _zip_kind(data: bytes) -> Detected:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
            if infos and infos[0].filename == "mimetype" and infos[0].file_size < 200:
                kind = ODF_TYPES.get(archive.read(infos[0]).strip())
                if kind:
                    return _is(kind)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return _is("zip", "damaged")
    if "[Content_Types].xml" in names:
        for part, kind in OOXML_MAIN_PARTS.items():
            if part in names:
                return _is(kind)
    return _is("zip")


def _audio_video(data: bytes, head: bytes) -> Detected | None:
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _is("matroska", "webm" if b"webm" in head[:48] else "matroska")
    if head.startswith(b"OggS"):
        return _is("ogg")
    if head.startswith(b"fLaC"):
        return _is("flac")
    if head.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        return _is("amr")
    start = 0
    if head.startswith(b"ID3") and len(head) >= 10:
        # The ID3v2 size is "synchsafe": 7 bits per byte.
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        start = 10 + size + (10 if head[5] & 0x10 else 0)
    frame = data[start : start + 2]
    if len(frame) == 2 and frame[0] == 0xFF and frame[1] & 0xE0 == 0xE0:
        if frame[1] & 0xF6 == 0xF0:
            return _is("adts")  # MPEG sync with layer bits 00: AAC in ADTS frames
        if frame[1] & 0x06:
            return _is("mp3")
    return None


def _is_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if text.startswith("\ufeff"):
        text = text[1:]
    if _BINARY_CONTROLS.search(text):
        return False
    return not text.lstrip().startswith("<")


def _markup_or_unknown(data: bytes) -> Detected:
    text = data[:4096].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    return _is("markup") if text.startswith("<") else _is("unknown")
