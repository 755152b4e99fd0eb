"""Pictures: identifying metadata goes, pixels stay, hostile files are flagged, not cleaned.

These tests call the format cleaners in this process (``dispatch.clean_bytes``, which the
worker runs); test_metadata_sandbox.py runs the same code through the worker process.
exiftool, an independent reader, judges every cleaned file.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image, ImageChops

from intake.metadata import icc, jpeg, png
from intake.metadata.dispatch import clean_bytes
from intake.metadata.outcome import Outcome, Report
from tests.samples import exiftool, make
from tests.samples.exiftool import LATITUDE, LONGITUDE, MAKE, MODEL, PERSON, SERIAL, SOFTWARE

pillow_heif.register_heif_opener()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the exiftool thumbnail file (exiftool reads thumbnails from files)."""
    return tmp_path_factory.mktemp("pictures")


def _clean(data: bytes, filename: str, declared_type: str = "") -> Outcome:
    return clean_bytes(data, filename=filename, declared_type=declared_type)


def _rgb(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def _close(a: Image.Image, b: Image.Image, tolerance: int = 12) -> bool:
    """Whether two pictures have the same size and roughly the same pixels."""
    if a.size != b.size:
        return False
    difference = ImageChops.difference(a, b).convert("L")
    return int(difference.getextrema()[1]) <= tolerance * 3  # JPEG re-encodes move pixels


PROFILE = make.srgb_profile()
# format name → how to build an untagged picture of that format (exiftool adds the tags)
PICTURES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "jpeg": (
        "photo.jpg",
        lambda: make.encoded(make.picture(), "JPEG", quality=90, icc_profile=PROFILE),
    ),
    "png": ("screenshot.png", lambda: make.encoded(make.picture(), "PNG", icc_profile=PROFILE)),
    "webp": (
        "photo.webp",
        lambda: make.encoded(make.picture(), "WEBP", lossless=True, icc_profile=PROFILE),
    ),
    "tiff": ("scan.tif", lambda: make.encoded(make.picture(), "TIFF", icc_profile=PROFILE)),
    "gif": ("animation.gif", lambda: make.encoded(make.picture(), "GIF")),
    "heic": ("IMG_0001.HEIC", lambda: make.encoded(make.picture(), "HEIF", quality=90)),
}
MEDIA_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "tiff": "image/tiff",
    "gif": "image/gif",
    "heic": "image/jpeg",
}


@pytest.fixture(scope="module", params=sorted(PICTURES))
def tagged_picture(request: pytest.FixtureRequest, workdir: Path) -> tuple[str, bytes, Outcome]:
    """(format, tagged original, outcome) for each picture format, cleaned once."""
    name = request.param
    filename, build = PICTURES[name]
    original = make.tagged(build(), workdir, thumbnail=name in ("jpeg", "tiff"))
    return name, original, _clean(original, filename)


def test_sample_pictures_really_carry_identifying_metadata(
    tagged_picture: tuple[str, bytes, Outcome],
) -> None:
    name, original, _ = tagged_picture
    assert exiftool.identifying(exiftool.read(original)), f"the {name} sample has no tags"


def test_pictures_come_out_with_nothing_identifying(
    tagged_picture: tuple[str, bytes, Outcome],
) -> None:
    name, _, outcome = tagged_picture
    assert outcome.status == "cleaned", outcome.reason
    assert outcome.media_type == MEDIA_TYPES[name]
    assert outcome.kind == "image"
    exiftool.assert_clean(outcome.data)


def test_pictures_keep_their_pixels(tagged_picture: tuple[str, bytes, Outcome]) -> None:
    name, original, outcome = tagged_picture
    tolerance = 0 if name in ("png", "webp", "tiff", "gif") else 12
    assert _close(_rgb(original), _rgb(outcome.data), tolerance)


def test_the_report_says_what_was_found_and_removed(
    tagged_picture: tuple[str, bytes, Outcome],
) -> None:
    name, _, outcome = tagged_picture
    if name == "gif":  # GIF holds no EXIF: only its comment and XMP
        assert {"comment", "XMP"} <= set(outcome.found)
        return
    assert f"camera make and model ({MAKE} {MODEL})" in outcome.found
    assert any(SERIAL in item for item in outcome.found)
    assert f"owner ({PERSON})" in outcome.found
    assert f"software ({SOFTWARE})" in outcome.found
    assert "GPS position" in outcome.found
    assert "XMP" in outcome.found
    assert outcome.location == pytest.approx((LATITUDE, LONGITUDE), abs=1e-4)
    assert outcome.taken_at is not None
    assert outcome.taken_at.startswith("2024-05-01T10:20:30")
    assert set(outcome.found) <= set(outcome.removed)


def test_a_heic_becomes_a_jpeg_with_a_new_extension() -> None:
    original = make.encoded(make.picture(), "HEIF", exif=make.pillow_exif(6))
    outcome = _clean(original, "IMG_0001.HEIC", "image/heic")
    assert outcome.status == "cleaned", outcome.reason
    assert outcome.extension == ".jpg"
    assert outcome.media_type == "image/jpeg"
    # pillow-heif stored the rotation as the container's own transform; libheif applies it
    assert _rgb(outcome.data).size == (64, 96)
    assert outcome.location == pytest.approx((LATITUDE, LONGITUDE), abs=1e-3)
    assert outcome.data.startswith(b"\xff\xd8\xff")
    assert any("converted to JPEG" in item for item in outcome.removed)


# -- JPEG ---------------------------------------------------------------------------------------


def _scan(data: bytes) -> bytes:
    """The bytes from the first SOS marker to EOI: the entropy-coded picture."""
    segments, _ = jpeg.split(data)
    start = data.index(next(s.raw for s in segments if s.marker == jpeg.SOS))
    return data[start : data.rindex(b"\xff\xd9")]


@pytest.mark.parametrize("progressive", [False, True])
def test_an_upright_jpeg_keeps_its_scan_data_byte_for_byte(
    workdir: Path, progressive: bool
) -> None:
    original = make.tagged(
        make.encoded(make.picture(), "JPEG", quality=85, progressive=progressive), workdir
    )
    outcome = _clean(original, "photo.jpg")
    assert outcome.status == "cleaned"
    assert _scan(outcome.data) == _scan(original)
    assert not any("re-encoded" in item for item in outcome.removed)


@pytest.mark.parametrize(
    ("orientation", "turn"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_270),
        (8, Image.Transpose.ROTATE_90),
    ],
)
def test_a_sideways_jpeg_comes_out_upright_without_an_orientation_tag(
    orientation: int, turn: Image.Transpose
) -> None:
    original = make.jpeg_with_pillow_exif(orientation)
    outcome = _clean(original, "photo.jpg")
    assert outcome.status == "cleaned", outcome.reason
    upright = _rgb(original).transpose(turn)
    assert _close(upright, _rgb(outcome.data))
    tags = exiftool.assert_clean(outcome.data)
    assert not any("Orientation" in key for key in tags)
    assert any("turned upright" in item for item in outcome.removed)


def test_a_jpeg_with_nothing_to_remove_is_left_alone() -> None:
    plain = make.encoded(make.picture(), "JPEG", quality=80)
    outcome = _clean(plain, "photo.jpg")
    assert outcome.status == "nothing_to_clean"
    assert outcome.found == []


def test_the_colour_profile_keeps_its_colours_but_loses_its_device_details() -> None:
    profile = bytearray(make.srgb_profile())
    profile[48:56] = b"APPLiPh1"  # device manufacturer and model in the header
    original = make.encoded(make.picture(), "JPEG", icc_profile=bytes(profile))
    outcome = _clean(original, "photo.jpg")
    cleaned = Image.open(io.BytesIO(outcome.data)).info["icc_profile"]
    assert icc.is_clean(cleaned)
    assert b"APPL" not in cleaned
    assert b"sRGB built-in" not in cleaned
    assert "device make and model in the colour profile" in outcome.found
    tags = exiftool.read(outcome.data)
    assert tags["ICC_Profile:ProfileDescription"] == "ICC profile"
    assert (
        tags["ICC_Profile:RedMatrixColumn"]
        == exiftool.read(original)["ICC_Profile:RedMatrixColumn"]
    )


def test_pictures_glued_after_the_end_are_dropped() -> None:
    """A second JPEG after EOI (depth map, multi-picture) carries its own EXIF."""
    second = make.jpeg_with_pillow_exif()
    outcome = _clean(make.encoded(make.picture(), "JPEG") + second, "photo.jpg")
    assert outcome.status == "cleaned"
    assert "data after the end of the picture" in outcome.found
    assert outcome.data.count(b"\xff\xd8") == 1
    exiftool.assert_clean(outcome.data)


# -- PNG, GIF, WebP details -----------------------------------------------------------------


def _png_chunks(data: bytes) -> list[bytes]:
    return [kind for kind, _, _ in png.chunks(data)[0]]


def test_png_keeps_only_picture_chunks() -> None:
    image = make.picture()
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_text("Author", PERSON)
    info.add_itxt("Comment", exiftool.COMMENT, zip=True)
    original = make.encoded(image, "PNG", pnginfo=info, dpi=(144, 144), exif=make.pillow_exif())
    outcome = _clean(original, "screenshot.png")
    assert outcome.status == "cleaned"
    assert _png_chunks(outcome.data) == [b"IHDR", b"IDAT", b"IEND"]
    assert {"text (Author)", "text (Comment)", "print density", "EXIF"} <= set(outcome.found)
    exiftool.assert_clean(outcome.data)


def test_an_animated_gif_keeps_its_frames_and_loop() -> None:
    frames = [make.picture().rotate(angle) for angle in (0, 90, 180)]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        loop=0,
        duration=100,
        comment=exiftool.COMMENT.encode(),
    )
    outcome = _clean(buffer.getvalue(), "animation.gif")
    assert outcome.status == "cleaned"
    cleaned = Image.open(io.BytesIO(outcome.data))
    assert cleaned.n_frames == 3
    assert cleaned.info["loop"] == 0
    assert "comment" in outcome.found
    assert "comment" not in cleaned.info


def test_an_animated_webp_keeps_its_frames() -> None:
    frames = [make.picture().rotate(angle) for angle in (0, 90)]
    buffer = io.BytesIO()
    frames[0].save(
        buffer,
        "WEBP",
        save_all=True,
        append_images=frames[1:],
        lossless=True,
        exif=make.pillow_exif(),
        xmp=f"<x:xmpmeta>{PERSON}</x:xmpmeta>".encode(),
    )
    outcome = _clean(buffer.getvalue(), "sticker.webp")
    assert outcome.status == "cleaned", outcome.reason
    assert Image.open(io.BytesIO(outcome.data)).n_frames == 2
    exiftool.assert_clean(outcome.data)


def test_a_multipage_tiff_keeps_every_page() -> None:
    pages = [make.picture(), make.picture().rotate(180)]
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:], exif=make.pillow_exif())
    outcome = _clean(buffer.getvalue(), "scan.tiff")
    assert outcome.status == "cleaned", outcome.reason
    cleaned = Image.open(io.BytesIO(outcome.data))
    assert cleaned.n_frames == 2
    cleaned.seek(1)
    assert _close(cleaned.convert("RGB"), pages[1], 0)
    exiftool.assert_clean(outcome.data)


# -- hostile and broken pictures ------------------------------------------------------------


def _polyglot() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("secret.txt", PERSON)
    return make.encoded(make.picture(), "JPEG") + buffer.getvalue()


GARBAGE = bytes(range(256)) * 64


@pytest.mark.parametrize(
    ("case", "data", "filename", "reason"),
    [
        ("PNG bomb", make.png_bomb(), "bomb.png", "too large"),
        ("JPEG bomb", make.jpeg_bomb(), "bomb.jpg", "too large"),
        ("truncated JPEG", make.encoded(make.picture(), "JPEG")[:-200], "cut.jpg", "cut short"),
        ("truncated PNG", make.encoded(make.picture(), "PNG")[:-30], "cut.png", "cut short"),
        ("truncated GIF", make.encoded(make.picture(), "GIF")[:-40], "cut.gif", ""),
        ("garbage named like a photo", GARBAGE, "photo.jpg", "not a JPEG picture"),
        ("JPEG header then garbage", b"\xff\xd8\xff\xe0" + GARBAGE, "photo.jpg", "cut short"),
        (
            "PNG with a bad checksum",
            make.encoded(make.picture(), "PNG")[:40]
            + b"\x00\x00"
            + make.encoded(make.picture(), "PNG")[42:],
            "bad.png",
            "checksum",
        ),
        ("camera raw", b"II*\x00\x08\x00\x00\x00CR" + bytes(100), "IMG_1.CR2", "raw"),
    ],
)
def test_hostile_or_broken_pictures_are_not_cleaned(
    case: str, data: bytes, filename: str, reason: str
) -> None:
    outcome = _clean(data, filename, "image/jpeg")
    assert outcome.status == "not_cleaned", case
    assert outcome.reason
    assert reason in outcome.reason
    assert outcome.data == b""  # the caller keeps the original; nothing half-cleaned


def test_a_polyglot_loses_its_zip() -> None:
    outcome = _clean(_polyglot(), "photo.jpg")
    assert outcome.status == "cleaned"
    assert b"PK\x03\x04" not in outcome.data
    assert b"secret.txt" not in outcome.data
    assert "data after the end of the picture" in outcome.found


def test_a_picture_with_the_wrong_name_is_cleaned_as_what_it_is() -> None:
    outcome = _clean(
        make.encoded(make.picture(), "PNG", exif=make.pillow_exif()), "photo.jpg", "image/jpeg"
    )
    assert outcome.status == "cleaned"
    assert outcome.media_type == "image/png"
    assert outcome.extension == ".png"
    assert any("but it is a PNG picture" in item for item in outcome.found)


def test_the_jpeg_verifier_refuses_a_leftover_segment() -> None:
    cleaned = _clean(make.jpeg_with_pillow_exif(), "photo.jpg").data
    sneaky = cleaned[:2] + b"\xff\xfe\x00\x08secret" + cleaned[2:]
    with pytest.raises(jpeg.CannotClean, match="metadata segment"):
        jpeg.verify(sneaky)
    assert jpeg.clean(sneaky, Report()).data == cleaned
