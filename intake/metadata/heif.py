"""HEIC/HEIF (and AVIF): convert the main picture to a JPEG (or a PNG when it has
transparency) with no metadata at all.

An iPhone HEIC is a box container holding the picture as tiles plus EXIF, XMP, a thumbnail,
depth maps, HDR gain maps and other auxiliary pictures. Rebuilding it by hand would be a
second HEIF writer; converting is simpler to check and gives a file every viewer opens.
libheif applies the container's rotation and mirroring while decoding, so the result is
upright; the EXIF orientation is then informational and not applied a second time.
"""

from __future__ import annotations

import io

import pillow_heif
from PIL import Image

from intake.metadata import exif, icc, jpeg, pictures, png
from intake.metadata.outcome import CannotClean, Output, Report

pillow_heif.register_heif_opener()

AUXILIARY = {
    "thumbnails": "thumbnail",
    "depth_images": "depth map",
    "aux": "auxiliary pictures (HDR gain map, matte)",
}


def clean(data: bytes, report: Report) -> Output:
    """The main picture of a HEIF/AVIF file as a JPEG or PNG without metadata."""
    with pictures.reading_original():
        image = Image.open(io.BytesIO(data))
        if image.format not in ("HEIF", "AVIF"):
            raise CannotClean("the file is not a HEIF picture we can read")
        pictures.check_size(image)
        _describe(image, report)
        image.load()
    profile = image.info.get("icc_profile")
    clean_profile = icc.sanitize(profile, report) if profile else None
    fresh = image.copy()
    fresh.info = {}
    with_alpha = "A" in fresh.getbands() or "transparency" in image.info
    buffer = io.BytesIO()
    with pictures.checking_output():
        if with_alpha:
            fresh.convert("RGBA").save(buffer, "PNG", icc_profile=clean_profile)
        else:
            options: dict[str, object] = {"quality": pictures.JPEG_QUALITY, "optimize": True}
            if clean_profile:
                options["icc_profile"] = clean_profile
            fresh.convert("RGB").save(buffer, "JPEG", **options)
    converted = buffer.getvalue()
    if with_alpha:
        output = png.clean(converted, Report())
    else:
        output = jpeg.clean(converted, Report(), orient=False)
    name = "PNG" if with_alpha else f"JPEG at quality {pictures.JPEG_QUALITY}"
    report.dropped(f"the {image.format} container (the picture was converted to {name})")
    return output


def _describe(image: Image.Image, report: Report) -> None:
    info = image.info
    if info.get("exif"):
        exif.describe(exif.read_exif_block(info["exif"]), report)
    if info.get("xmp"):
        report.saw_and_dropped("XMP")
    for key, label in AUXILIARY.items():
        if info.get(key):
            report.saw_and_dropped(label)
    if any(m.get("type") != "Exif" for m in info.get("metadata") or [] if isinstance(m, dict)):
        report.saw_and_dropped("other metadata")
    if getattr(image, "n_frames", 1) > 1:
        report.saw_and_dropped("other pictures in the file (only the main one is kept)")
