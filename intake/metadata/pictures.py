"""Pillow with limits: open untrusted pictures, decode them to check them, turn them upright."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, ImageFile, ImageSequence

from intake.metadata.limits import MAX_FRAMES, MAX_PIXELS, MAX_TOTAL_PIXELS
from intake.metadata.outcome import CannotClean

# EXIF orientation → the transposition that makes the picture upright.
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Quality of the rare re-encodes (orientation, HEIC): visually lossless, still smaller than
# the 100 setting that only makes files bigger.
JPEG_QUALITY = 95


def configure() -> None:
    """Set Pillow's global limits: decompression bombs fail, truncated files fail."""
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES = False


@contextmanager
def reading_original() -> Iterator[None]:
    """Read a source's picture: a decompression bomb is an error, other warnings are not.

    Pillow also warns about damaged metadata (a TIFF tag with too many entries, a broken MPO
    index); we drop all metadata, so those warnings change nothing and are let go here.
    """
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


@contextmanager
def checking_output() -> Iterator[None]:
    """Read back our own output: any warning at all means doubt, and doubt means not clean."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def check_size(image: Image.Image) -> None:
    """Refuse a picture whose declared size is over the pixel limit, before decoding it."""
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise CannotClean(
            f"the picture is too large to clean safely ({width}×{height} pixels; "
            f"the limit is {MAX_PIXELS // 1_000_000} megapixels)"
        )


def decode_all(data: bytes, expected_format: str, *, draft: bool = False) -> Image.Image:
    """Decode every frame of a picture we wrote, to prove it is whole; return it (loaded).

    ``draft`` decodes a JPEG at 1/8 scale: every byte of the compressed data is still read,
    so damage is still found, at a fraction of the memory and time.
    """
    with checking_output():
        image = Image.open(io.BytesIO(data))
        if image.format != expected_format:
            raise CannotClean(f"the cleaned file did not read back as {expected_format}")
        check_size(image)
        if draft:
            image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
        total = 0
        for number, frame in enumerate(ImageSequence.Iterator(image)):
            total += frame.width * frame.height
            if number >= MAX_FRAMES or total > MAX_TOTAL_PIXELS:
                raise CannotClean("the picture has too many frames to check")
            frame.load()
        image.seek(0)
        return image


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """A copy of ``image`` turned upright for its EXIF orientation, without any metadata."""
    op = UPRIGHT.get(orientation)
    turned = image.transpose(op) if op is not None else image.copy()
    turned.info = {}
    return turned
