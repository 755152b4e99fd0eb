"""exiftool through pipes: write identifying tags into sample files, read what a file holds.

exiftool is the independent judge of the metadata tests: if exiftool finds a sentinel value
or an identifying tag in a cleaned file, the cleaning failed. scripts/test.sh installs it
(Debian's libimage-exiftool-perl).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

# Values no real file holds: if any of them is read back from a cleaned file, it leaked.
PERSON = "Jane Sentinel-Doe"
SERIAL = "SN-SENTINEL-4711"
LENS_SERIAL = "LENS-SENTINEL-0815"
SOFTWARE = "SentinelCam 9.9"
MAKE, MODEL = "SentinelMaker", "Sentinel Phone 12"
COMMENT = "sentinel secret comment"
LATITUDE, LONGITUDE = -1.6777, 29.2285  # Goma
TAKEN = "2024:05:01 10:20:30"
SENTINELS = (
    PERSON,
    "Sentinel",
    "sentinel",
    SERIAL,
    LENS_SERIAL,
    SOFTWARE,
    MAKE,
    MODEL,
    COMMENT,
    "29.2285",
    "29 deg 13",
)

IDENTIFYING_TAGS = [
    f"-Make={MAKE}",
    f"-Model={MODEL}",
    f"-SerialNumber={SERIAL}",
    f"-LensSerialNumber={LENS_SERIAL}",
    f"-OwnerName={PERSON}",
    f"-Artist={PERSON}",
    f"-Copyright={PERSON}",
    f"-Software={SOFTWARE}",
    f"-ImageDescription={COMMENT}",
    f"-UserComment={COMMENT}",
    "-ImageUniqueID=0123456789abcdef0123456789abcdef",
    f"-GPSLatitude={abs(LATITUDE)}",
    "-GPSLatitudeRef=S",
    f"-GPSLongitude={LONGITUDE}",
    "-GPSLongitudeRef=E",
    "-GPSAltitude=1500",
    f"-DateTimeOriginal={TAKEN}",
    "-OffsetTimeOriginal=+02:00",
    f"-XMP-dc:Creator={PERSON}",
    f"-XMP-dc:Description={COMMENT}",
    f"-XMP-tiff:Model={MODEL}",
    f"-IPTC:By-line={PERSON}",
    f"-IPTC:Caption-Abstract={COMMENT}",
    f"-Comment={COMMENT}",
]
# Tags that must not be in a cleaned file with a value (exiftool's names, group-less).
FORBIDDEN_TAG_WORDS = (
    "GPS",
    "Serial",
    "Owner",
    "Artist",
    "Author",
    "Creator",
    "Software",
    "Thumbnail",
    "Comment",
    "Orientation",
    "Copyright",
    "UniqueID",
    "By-line",
    "Caption",
    "Description",
    "Producer",
    "Company",
    "LastModifiedBy",
    "Location",
    "Make",
    "Model",
    "DateTimeOriginal",
    "Keywords",
    "Title",
)
# exiftool names that contain a forbidden word but describe structure, with harmless values.
HARMLESS = {
    "ICC_Profile:ProfileDescription": "ICC profile",
    "ICC_Profile:ProfileCopyright": "",
    "ICC-header:DeviceModel": "",
    "ICC-header:DeviceManufacturer": "",
}
# Generic handler names ffmpeg writes into every MP4/MOV track.
GENERIC_VALUES = {"VideoHandler", "SoundHandler", "DataHandler"}
ZERO_DATES = {"0000:00:00 00:00:00", "0000:00:00 00:00:00Z"}


def require() -> str:
    """The exiftool program, or fail the test with a message saying how to get it."""
    found = shutil.which("exiftool")
    if found is None:
        pytest.fail(
            "exiftool is missing: the metadata tests use it as an independent check. Run "
            "scripts/test.sh (it installs Debian's libimage-exiftool-perl) or install it."
        )
    return found


def write(data: bytes, *arguments: str) -> bytes:
    """``data`` with tags written by exiftool, through stdin and stdout."""
    done = subprocess.run(
        [require(), "-q", "-q", "-m", "-o", "-", *arguments, "-"],
        input=data,
        capture_output=True,
        check=False,
    )
    if done.returncode != 0 or not done.stdout:
        pytest.fail(f"exiftool could not write the sample: {done.stderr.decode()[:500]}")
    return done.stdout


def read(data: bytes) -> dict[str, Any]:
    """Every tag exiftool finds in ``data``, as group:name → value (binary values summarised)."""
    done = subprocess.run(
        [require(), "-j", "-G1", "-a", "-u", "-"], input=data, capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"exiftool could not read the file: {done.stderr.decode()[:500]}")
    found: dict[str, Any] = json.loads(done.stdout)[0]
    return {k: v for k, v in found.items() if not k.startswith(("System:", "ExifTool:"))}


def identifying(tags: dict[str, Any]) -> list[str]:
    """The tags exiftool read that identify a source: sentinel values or forbidden names."""
    problems = []
    for key, value in tags.items():
        text = json.dumps(value)
        if any(sentinel in text for sentinel in SENTINELS):
            problems.append(f"{key} = {text[:80]}")
            continue
        name = key.partition(":")[2]
        empty = value in ("", None, 0, "0") or str(value) in ZERO_DATES | GENERIC_VALUES
        if (
            any(word in name for word in FORBIDDEN_TAG_WORDS)
            and not empty
            and (HARMLESS.get(key) != value)
        ):
            problems.append(f"{key} = {text[:80]}")
        if key.startswith(("XMP", "IPTC", "Photoshop", "MakerNotes", "GPS")):
            problems.append(f"{key} = {text[:80]}")
    return problems


def assert_clean(data: bytes) -> dict[str, Any]:
    """Fail, naming each leftover, unless exiftool finds nothing identifying in ``data``."""
    tags = read(data)
    problems = identifying(tags)
    assert not problems, "identifying metadata survived cleaning:\n" + "\n".join(problems)
    return tags


def thumbnail_arguments(workdir: Path, thumbnail: bytes) -> list[str]:
    """exiftool arguments that embed ``thumbnail`` as the EXIF thumbnail (it reads a file)."""
    path = workdir / "thumbnail.jpg"
    path.write_bytes(thumbnail)
    return [f"-ThumbnailImage<={path}"]
