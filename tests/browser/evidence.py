"""Test files a source sends, with sentinels inside, and a way to read what the desk received."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from dataclasses import dataclass
from typing import Any

from PIL import Image
from playwright.sync_api import FilePayload

from filon.accounts import get_user, unlock_user_key
from filon.instance import Instance
from filon.submissions import open_submission, write_evidence
from tests.conftest import DeskSetup

CHUNK = 1024 * 1024
# Text and bytes that must never leave the browser in the clear when JavaScript is on.
SENTINEL_TEXT = "SENTINEL-report-Kalehe-cassiterite-41c9e"
SENTINEL_BYTES = b"SENTINEL-file-bytes-Numbi-gold-d5a07"


def photo_with_location() -> bytes:
    """A JPEG whose EXIF names the phone, its serial, the place and the time."""
    image = Image.new("RGB", (96, 64), (120, 90, 40))
    exif = Image.Exif()
    exif[0x010F] = "Tecno"  # Make
    exif[0x0110] = "Spark 10"  # Model
    exif[0x0131] = "Camera 4.2"  # Software
    exif[0x013B] = "Jean Mukendi"  # Artist
    ifd = exif.get_ifd(0x8769)  # Exif IFD
    ifd[0x9003] = "2024:03:12 14:03:00"  # DateTimeOriginal
    ifd[0xA431] = "SN-4471-0092"  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1] = "S"
    gps[2] = (1.0, 40.0, 44.0)
    gps[3] = "E"
    gps[4] = (29.0, 13.0, 12.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def large_file(size: int = 3 * CHUNK + 300_000) -> bytes:
    """Just over 3 MiB (four chunks) unless ``size`` says otherwise, with the sentinel at the
    start, across the first chunk boundary, and at the end."""
    data = bytearray(os.urandom(size))
    for at in (0, CHUNK - len(SENTINEL_BYTES) // 2, len(data) - len(SENTINEL_BYTES)):
        data[at : at + len(SENTINEL_BYTES)] = SENTINEL_BYTES
    return bytes(data)


def payload(name: str, mime: str, data: bytes) -> FilePayload:
    """A file as the file chooser hands it over."""
    return {"name": name, "mimeType": mime, "buffer": data}


def appearances(secret: bytes) -> list[bytes]:
    """Forms in which ``secret`` could show in a request body: raw, hex, UTF-16, JSON-escaped
    and base64 at each of the three alignments."""
    forms = [secret, secret.hex().encode(), secret.decode("latin-1").encode("utf-16-le")]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret)[4:-4]
        forms.append(encoded)
    return forms


def leaked(body: bytes, secret: bytes) -> bool:
    """Whether ``body`` carries ``secret`` in any form listed by :func:`appearances`."""
    return any(form in body for form in appearances(secret))


@dataclass(frozen=True)
class Received:
    """A submission as the desk opens it."""

    document: dict[str, Any]
    files: list[bytes]


def open_as_desk(instance: Instance, desk: DeskSetup, receipt: str) -> Received:
    """Open a submission with the desk member's password, as an investigator would."""
    with instance.sessions() as session:
        user = get_user(session, desk.username)
        user_key = unlock_user_key(user, desk.password)
        opened = open_submission(session, reference=receipt, user=user, user_key=user_key)
        files = []
        for evidence in opened.evidence:
            sink = io.BytesIO()
            write_evidence(instance.store, evidence, opened.desk_key, sink)
            files.append(sink.getvalue())
        return Received(opened.document, files)


def sha256(data: bytes) -> str:
    """Hex SHA-256."""
    return hashlib.sha256(data).hexdigest()
