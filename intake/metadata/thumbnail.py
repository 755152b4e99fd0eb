"""Previews for investigators: a picture re-rendered small, inside the worker, without metadata.

Runs only in the worker process (``worker.py``), under its resource limits and with Pillow's
pixel limits (``pictures.configure``): the casework never parses a source's picture itself.
The preview is drawn from decoded pixels into a new picture, so nothing of the original file
(EXIF, XMP, ICC, comments, trailing bytes, polyglot tricks) reaches the browser.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from intake.metadata import pictures
from intake.metadata.limits import MAX_PIXELS, PREVIEW_MAX_SIDE
from intake.metadata.outcome import CannotClean

PREVIEW_JPEG_QUALITY = 85


class CannotPreview(Exception):
    """A picture we will not render; the message says why, in plain words."""


def render(data: bytes, max_side: int = PREVIEW_MAX_SIDE) -> tuple[str, bytes]:
    """A JPEG (or PNG, for pictures with transparency) at most ``max_side`` pixels a side."""
    pictures.configure()
    try:
        with pictures.reading_original():
            opened = Image.open(io.BytesIO(data))
            pictures.check_size(opened)
            if opened.format == "JPEG":
                # Decode at the smallest scale that still covers the preview: less memory, time.
                opened.draft("RGB", (max_side, max_side))
            opened.load()
            image = ImageOps.exif_transpose(opened)
            image.thumbnail((max_side, max_side))
            transparent = image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info
            )
            picture = image.convert("RGBA" if transparent else "RGB")
    except (CannotClean, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        limit = MAX_PIXELS // 1_000_000
        raise CannotPreview(
            f"the picture is too large to preview safely (over {limit} megapixels, "
            "or a decompression bomb)"
        ) from error
    except MemoryError as error:
        raise CannotPreview("the picture needs more memory to preview than we allow") from error
    except Exception as error:  # noqa: BLE001 - any parser failure on hostile input
        raise CannotPreview(
            f"the picture is damaged or of a kind we cannot preview ({type(error).__name__})"
        ) from error
    picture.info = {}  # nothing from the original travels with the pixels
    out = io.BytesIO()
    if transparent:
        picture.save(out, "PNG", optimize=True)
        return "image/png", out.getvalue()
    picture.save(out, "JPEG", quality=PREVIEW_JPEG_QUALITY)
    return "image/jpeg", out.getvalue()
