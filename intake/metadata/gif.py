"""GIF: copy the screen descriptor, colour tables, frames and frame timing; drop the rest.

Left out: comment extensions, plain-text extensions (text drawn over the picture that
browsers ignore), and application extensions (XMP, ICC, software data) except NETSCAPE2.0 /
ANIMEXTS1.0 looping, which we rewrite with only its loop count. Nothing after the trailer.
"""

from __future__ import annotations

from intake.metadata import pictures
from intake.metadata.outcome import CannotClean, Output, Report

EXTENSION, IMAGE, TRAILER = 0x21, 0x2C, 0x3B
GRAPHIC_CONTROL, COMMENT, PLAIN_TEXT, APPLICATION = 0xF9, 0xFE, 0x01, 0xFF
LOOPING = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
GIF_INFO_KEYS = frozenset(
    {"version", "background", "transparency", "duration", "loop", "extension", "disposal"}
)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise CannotClean("the picture is cut short (it has no end)")
        piece = self.data[self.pos : self.pos + count]
        self.pos += count
        return piece

    def sub_blocks(self) -> list[bytes]:
        blocks: list[bytes] = []
        while True:
            size = self.take(1)[0]
            if size == 0:
                return blocks
            blocks.append(self.take(size))


def _table(flags: int) -> int:
    return 3 * (2 ** ((flags & 0x07) + 1)) if flags & 0x80 else 0


def _blocks(raw: list[bytes]) -> bytes:
    return b"".join(bytes([len(b)]) + b for b in raw) + b"\x00"


def clean(data: bytes, report: Report) -> Output:
    """A GIF with only its frames, their timing and its loop count."""
    reader = _Reader(data)
    header = reader.take(6)
    if header not in (b"GIF87a", b"GIF89a"):
        raise CannotClean("the file is not a GIF picture")
    screen = reader.take(7)
    out = bytearray(header + screen + reader.take(_table(screen[4])))
    frames = 0
    while True:
        kind = reader.take(1)[0]
        if kind == TRAILER:
            break
        if kind == IMAGE:
            descriptor = reader.take(9)
            table = reader.take(_table(descriptor[8]))
            code_size = reader.take(1)
            out += bytes([IMAGE]) + descriptor + table + code_size + _blocks(reader.sub_blocks())
            frames += 1
        elif kind == EXTENSION:
            out += _extension(reader, report)
        else:
            raise CannotClean("the picture is damaged (an unknown block)")
    if frames == 0:
        raise CannotClean("the picture has no frames")
    if reader.data[reader.pos :].strip(b"\x00"):
        report.saw_and_dropped("data after the end of the picture")
    out.append(TRAILER)
    cleaned = bytes(out)
    verify(cleaned)
    return Output(cleaned, "image/gif", ".gif")


def _extension(reader: _Reader, report: Report) -> bytes:
    label = reader.take(1)[0]
    blocks = reader.sub_blocks()
    if label == GRAPHIC_CONTROL:
        return bytes([EXTENSION, label]) + _blocks(blocks)
    if label == COMMENT:
        report.saw_and_dropped("comment")
    elif label == PLAIN_TEXT:
        report.saw_and_dropped("text overlay")
    elif label == APPLICATION and blocks and blocks[0] in LOOPING:
        loop = next((b for b in blocks[1:] if len(b) == 3 and b[0] == 1), None)
        if loop is not None:
            return bytes([EXTENSION, label]) + _blocks([b"NETSCAPE2.0", loop])
    elif label == APPLICATION and blocks:
        name = blocks[0][:8].decode("latin-1", "replace")
        label_text = {"XMP Data": "XMP", "ICCRGBG1": "colour profile"}.get(name)
        report.saw_and_dropped(label_text or f"application data ({name.strip()})")
    else:
        report.saw_and_dropped("extension data")
    return b""


def verify(data: bytes) -> None:
    """Check a cleaned GIF: it decodes whole and Pillow finds no comment or extension data."""
    image = pictures.decode_all(data, "GIF")
    extension = image.info.get("extension")
    if not set(image.info) <= GIF_INFO_KEYS or (extension and extension[0] != b"NETSCAPE2.0"):
        raise CannotClean("the cleaned picture still had metadata Pillow could read")
    if _has_extra_blocks(data):
        raise CannotClean("the cleaned picture still had a comment or application data")


def _has_extra_blocks(data: bytes) -> bool:
    """Walk a cleaned GIF's blocks again and look for any extension we do not keep."""
    reader = _Reader(data)
    screen = reader.take(13)[6:]
    reader.take(_table(screen[4]))
    while True:
        kind = reader.take(1)[0]
        if kind == TRAILER:
            return False
        if kind == IMAGE:
            descriptor = reader.take(9)
            reader.take(_table(descriptor[8]) + 1)
            reader.sub_blocks()
            continue
        label = reader.take(1)[0]
        blocks = reader.sub_blocks()
        if label not in (GRAPHIC_CONTROL, APPLICATION) or (
            label == APPLICATION and blocks[:1] != [b"NETSCAPE2.0"]
        ):
            return True
