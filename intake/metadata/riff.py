"""RIFF containers (WebP pictures, WAV recordings): a list of tagged chunks we rebuild.

WAV: we keep ``fmt `` (how to play the samples), ``fact`` and ``data`` (the sound), and leave
out LIST/INFO (artist, comment, software, date), bext (broadcast originator, date, coding
history), iXML (recorder settings, often the device name), ID3 tags, cue points and padding
chunks (which may hold leftovers of earlier data).
"""

from __future__ import annotations

import struct

from intake.metadata.outcome import CannotClean, Output, Report

WAV_KEPT = (b"fmt ", b"fact", b"data")
WAV_LABELS = {
    b"LIST": "text fields (artist, comment, software, date)",
    b"bext": "broadcast metadata (originator, date, coding history)",
    b"iXML": "recorder metadata (iXML)",
    b"id3 ": "ID3 tags",
    b"ID3 ": "ID3 tags",
    b"JUNK": "padding",
    b"PAD ": "padding",
    b"FLLR": "padding",
}


def chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, bytes]]:
    """(fourcc, body) of every chunk between ``start`` and ``end``."""
    found: list[tuple[bytes, bytes]] = []
    pos = start
    while pos < end:
        if pos + 8 > end:
            raise CannotClean("the file is cut short (a chunk header is incomplete)")
        fourcc, size = struct.unpack("<4sI", data[pos : pos + 8])
        if pos + 8 + size > end:
            raise CannotClean("the file is cut short (a chunk is incomplete)")
        found.append((fourcc, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return found


def chunk(fourcc: bytes, body: bytes) -> bytes:
    """A chunk with its size and padding byte."""
    return struct.pack("<4sI", fourcc, len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def container(data: bytes, form: bytes, report: Report) -> list[tuple[bytes, bytes]]:
    """The chunks of a RIFF file of the given form, noting bytes after its declared end."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != form:
        raise CannotClean("the file is not the kind of RIFF file it appears to be")
    (size,) = struct.unpack("<I", data[4:8])
    end = 8 + size
    if end > len(data):
        raise CannotClean("the file is cut short (shorter than its header says)")
    if data[end:].strip(b"\x00"):
        report.saw_and_dropped("data after the end of the file")
    return chunks(data, 12, end)


def wrap(form: bytes, body: bytes) -> bytes:
    """A RIFF file of ``form`` around already-built chunks."""
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + form + body


def clean_wav(data: bytes, report: Report) -> Output:
    """A WAV file with only its format and sound chunks."""
    found = container(data, b"WAVE", report)
    kinds = [fourcc for fourcc, _ in found]
    if kinds.count(b"fmt ") != 1 or kinds.count(b"data") != 1:
        raise CannotClean("the recording is damaged (it needs one format and one data chunk)")
    for fourcc, _ in found:
        if fourcc not in WAV_KEPT:
            label = WAV_LABELS.get(fourcc, f"{fourcc.decode('latin-1').strip()} data")
            (report.dropped if label == "padding" else report.saw_and_dropped)(label)
    cleaned = wrap(b"WAVE", b"".join(chunk(f, body) for f, body in found if f in WAV_KEPT))
    if [f for f, _ in container(cleaned, b"WAVE", Report())] != [f for f in kinds if f in WAV_KEPT]:
        raise CannotClean("the cleaned recording did not read back as expected")
    return Output(cleaned, "audio/wav", ".wav")
