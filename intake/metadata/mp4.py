"""ISO base media files (MP4, MOV, M4A, 3GP): the box structure, read and checked in Python.

ffmpeg reads from a pipe, which cannot seek back; phones write the index (``moov``) after the
media data (``mdat``), so ffmpeg would reach the index only after the data it indexes has
gone by. ``faststart`` moves the index in front in memory, fixing its chunk offsets, as
qt-faststart does on disk. ``verify`` walks what ffmpeg wrote and accepts only the boxes a
bare stream copy needs, with all creation and modification times zero.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from intake.metadata.outcome import CannotClean, Report

CONTAINERS = frozenset(
    {
        b"moov",
        b"trak",
        b"mdia",
        b"minf",
        b"stbl",
        b"edts",
        b"dinf",
        b"mvex",
        b"moof",
        b"traf",
        b"mfra",
        b"udta",
    }
)
XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
# What a stream copy by ffmpeg may contain, box by box (children allowed under each parent).
ALLOWED = {
    b"": {b"ftyp", b"moov", b"moof", b"mdat", b"mfra", b"free", b"sidx", b"styp"},
    b"moov": {b"mvhd", b"trak", b"mvex", b"udta"},
    b"trak": {b"tkhd", b"edts", b"mdia", b"tref"},
    b"edts": {b"elst"},
    b"mdia": {b"mdhd", b"hdlr", b"minf"},
    b"minf": {b"vmhd", b"smhd", b"nmhd", b"gmhd", b"dinf", b"stbl", b"hdlr"},
    b"dinf": {b"dref"},
    b"stbl": {
        b"stsd",
        b"stts",
        b"ctts",
        b"stsc",
        b"stsz",
        b"stz2",
        b"stco",
        b"co64",
        b"stss",
        b"stps",
        b"sdtp",
        b"sgpd",
        b"sbgp",
        b"cslg",
    },
    b"mvex": {b"trex", b"mehd"},
    b"moof": {b"mfhd", b"traf"},
    b"traf": {b"tfhd", b"tfdt", b"trun", b"sgpd", b"sbgp", b"sdtp"},
    b"mfra": {b"tfra", b"mfro"},
    b"udta": {b"meta"},
}
TIMED_HEADERS = (b"mvhd", b"tkhd", b"mdhd")


@dataclass(frozen=True)
class Box:
    """One box: its type, where it starts, where its body starts, and where it ends."""

    kind: bytes
    start: int
    body: int
    end: int


def boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The boxes between ``start`` and ``end``, checked to lie inside."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = pos + 8
        if size == 1:
            if pos + 16 > end:
                raise CannotClean("the video is damaged (a box header is incomplete)")
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            body = pos + 16
        elif size == 0:
            size = end - pos
        if size < body - pos or pos + size > end:
            raise CannotClean("the video is cut short or damaged (a box is incomplete)")
        yield Box(kind, pos, body, pos + size)
        pos += size
    if pos != end and data[pos:end].strip(b"\x00"):
        raise CannotClean("the video is damaged (bytes after its last box)")


def faststart(data: bytes) -> bytes:
    """The same file with its index (moov) before the media data, so a pipe can read it."""
    top = list(boxes(data))
    kinds = [box.kind for box in top]
    if b"moov" not in kinds:
        raise CannotClean("the video has no index (it may be cut short)")
    moov = top[kinds.index(b"moov")]
    first_media = next((b for b in top if b.kind == b"mdat"), None)
    if first_media is None or moov.start < first_media.start:
        return data
    if b"moof" in kinds:
        raise CannotClean("fragmented videos with the index at the end cannot be cleaned")
    shift = moov.end - moov.start
    patched = bytearray(data[moov.start : moov.end])
    _shift_offsets(patched, 0, len(patched), shift, (first_media.start, moov.start))
    return (
        data[: first_media.start]
        + bytes(patched)
        + data[first_media.start : moov.start]
        + data[moov.end :]
    )


def _shift_offsets(
    moov: bytearray, start: int, end: int, shift: int, moved: tuple[int, int]
) -> None:
    """Add ``shift`` to every chunk offset pointing into the range of data that moved."""
    for box in boxes(bytes(moov[start:end])):
        body, box_end = start + box.body - 0, start + box.end
        if box.kind in (b"moov", b"trak", b"mdia", b"minf", b"stbl"):
            _shift_offsets(moov, body, box_end, shift, moved)
        elif box.kind in (b"stco", b"co64"):
            width, fmt = (4, ">I") if box.kind == b"stco" else (8, ">Q")
            (count,) = struct.unpack(">I", moov[body + 4 : body + 8])
            if body + 8 + count * width > box_end:
                raise CannotClean("the video is damaged (a chunk table is incomplete)")
            for i in range(count):
                at = body + 8 + i * width
                (offset,) = struct.unpack(fmt, moov[at : at + width])
                if moved[0] <= offset < moved[1]:
                    offset += shift
                    if width == 4 and offset > 0xFFFFFFFF:
                        raise CannotClean("the video is too large to reorder")
                    moov[at : at + width] = struct.pack(fmt, offset)


def describe(data: bytes, report: Report) -> None:
    """Note the boxes that hold metadata in an original file (ffprobe reads their values)."""
    for box in _walk(data, 0, len(data), b""):
        if box.kind == b"uuid":
            is_xmp = data[box.body : box.body + 16] == XMP_UUID
            report.saw_and_dropped("XMP" if is_xmp else "maker data (uuid boxes)")
        elif box.kind == b"meta":
            report.saw_and_dropped("metadata (meta boxes)")
        elif box.kind == b"udta":
            report.saw_and_dropped("user data (udta boxes)")


def _walk(data: bytes, start: int, end: int, parent: bytes) -> Iterator[Box]:
    for box in boxes(data, start, end):
        yield box
        if box.kind in CONTAINERS and box.kind != b"mdat":
            yield from _walk(data, box.body, box.end, box.kind)


def verify(data: bytes) -> None:
    """Check ffmpeg's output: only stream-copy boxes, no metadata, all times zero."""
    _verify_level(data, 0, len(data), b"")


def _verify_level(data: bytes, start: int, end: int, parent: bytes) -> None:
    for box in boxes(data, start, end):
        if box.kind not in ALLOWED.get(parent, set()):
            raise CannotClean("the cleaned video still had a metadata box")
        if box.kind in TIMED_HEADERS:
            version = data[box.body]
            width = 8 if version == 1 else 4
            times = data[box.body + 4 : box.body + 4 + 2 * width]
            if times.strip(b"\x00"):
                raise CannotClean("the cleaned video still had creation dates")
        if box.kind == b"meta":
            _verify_empty_meta(data, box)
        elif box.kind in CONTAINERS:
            _verify_level(data, box.body, box.end, box.kind)


def _verify_empty_meta(data: bytes, meta: Box) -> None:
    """ffmpeg writes an empty iTunes metadata list (a handler and an empty ``ilst``)."""
    for box in boxes(data, meta.body + 4, meta.end):
        if box.kind == b"ilst" and box.end - box.body == 0:
            continue
        if box.kind == b"hdlr":
            continue
        raise CannotClean("the cleaned video still had metadata")
