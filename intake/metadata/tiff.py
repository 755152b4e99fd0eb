"""TIFF: decode every page and write a new TIFF with only the tags that describe the pixels.

TIFF keeps its metadata in the same tag directories as the picture structure (and can hide a
thumbnail or a raw image in a sub-directory), so copying "the picture part" is not possible:
we re-encode every page losslessly (Deflate) from fresh images that carry no metadata, and
then check that the new file's tags are all structural. Camera raw files that look like TIFF
(DNG, CR2, NEF) are not pictures Pillow can decode faithfully: they are not cleaned.
"""

from __future__ import annotations

import io

from PIL import Image, ImageSequence

from intake.metadata import exif, icc, pictures
from intake.metadata.limits import MAX_FRAMES, MAX_TOTAL_PIXELS
from intake.metadata.outcome import CannotClean, Output, Report

ORIENTATION = 274
ICC_TAG = 34675
# Tags that say how the pixels are stored, and nothing else.
STRUCTURAL_TAGS = frozenset(
    {
        256,
        257,
        258,
        259,
        262,
        266,
        273,
        277,
        278,
        279,
        284,
        317,
        320,
        338,
        339,
        282,
        283,
        296,  # resolution, which Pillow always writes (we write 72 dpi)
        322,
        323,
        324,
        325,  # tiles
        530,
        531,
        532,  # YCbCr sub-sampling, positioning, reference black/white
        ICC_TAG,
    }
)
RAW_TAGS = (50706, 330)  # DNGVersion, SubIFDs (raw data or previews in sub-directories)


def clean(data: bytes, report: Report) -> Output:
    """A new TIFF with every page of the original and only structural tags."""
    tags = exif.read_tags(data)
    exif.describe({k: v for k, v in tags.items() if _metadata_tag(k)}, report, pages=True)
    pages: list[Image.Image] = []
    profile: bytes | None = None
    rotated = False
    with pictures.reading_original():
        image = Image.open(io.BytesIO(data))
        if image.format != "TIFF":
            raise CannotClean("the file is not a TIFF picture Pillow can read")
        total = 0
        for number, frame in enumerate(ImageSequence.Iterator(image)):
            pictures.check_size(frame)
            total += frame.width * frame.height
            if number >= MAX_FRAMES or total > MAX_TOTAL_PIXELS:
                raise CannotClean("the picture has too many pages to clean")
            ifd = frame.tag_v2  # type: ignore[attr-defined]
            if any(tag in ifd for tag in RAW_TAGS):
                raise CannotClean("camera raw files (DNG and similar) cannot be cleaned")
            _describe_tags(set(ifd), report)
            if number == 0 and ICC_TAG in ifd:
                profile = icc.sanitize(bytes(ifd[ICC_TAG]), report)
            frame.load()
            orientation = ifd.get(ORIENTATION, 1)
            rotated |= orientation != 1
            pages.append(pictures.upright(frame, orientation))
    if rotated:
        report.dropped("orientation tag (the pages were turned upright)")
    cleaned = _write(pages, profile)
    verify(cleaned, len(pages))
    report.dropped("all tags but the picture structure (pages re-encoded losslessly)")
    return Output(cleaned, "image/tiff", ".tif")


def _describe_tags(tags: set[int], report: Report) -> None:
    if 700 in tags:
        report.saw_and_dropped("XMP")
    if 33723 in tags:
        report.saw_and_dropped("IPTC")
    if 34377 in tags:
        report.saw_and_dropped("Photoshop data")
    if tags - STRUCTURAL_TAGS - {ORIENTATION, 700, 33723, 34377, 34665, 34853}:
        report.saw_and_dropped("other TIFF tags")


def _write(pages: list[Image.Image], profile: bytes | None) -> bytes:
    buffer = io.BytesIO()
    options: dict[str, object] = {"compression": "tiff_adobe_deflate"}
    if profile is not None:
        options["icc_profile"] = profile
    with pictures.checking_output():
        pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:], **options)
    return buffer.getvalue()


def verify(data: bytes, page_count: int) -> None:
    """Check a cleaned TIFF: every page there, only structural tags, all pages decode."""
    image = pictures.decode_all(data, "TIFF")
    pages = 0
    for frame in ImageSequence.Iterator(image):
        pages += 1
        tags = frame.tag_v2  # type: ignore[attr-defined]
        if not set(tags) <= STRUCTURAL_TAGS:
            raise CannotClean("the cleaned picture still had metadata tags")
        if ICC_TAG in tags and not icc.is_clean(bytes(tags[ICC_TAG])):
            raise CannotClean("the cleaned picture's colour profile still had device details")
    if pages != page_count:
        raise CannotClean("the cleaned picture lost pages")
    # exifread names the first directory "Image" and the second "Thumbnail" (in a TIFF, the
    # second page); either may hold structural tags only.
    if any(_metadata_tag(key) for key in exif.read_tags(data)):
        raise CannotClean("the cleaned picture still had EXIF data")


def _metadata_tag(key: str) -> bool:
    """Whether an exifread key names anything but picture structure."""
    directory, _, name = key.partition(" ")
    return directory not in ("Image", "Thumbnail") or name not in _STRUCTURAL_NAMES


_STRUCTURAL_NAMES = (
    "ImageWidth",
    "ImageLength",
    "BitsPerSample",
    "Compression",
    "PhotometricInterpretation",
    "FillOrder",
    "StripOffsets",
    "SamplesPerPixel",
    "RowsPerStrip",
    "StripByteCounts",
    "PlanarConfiguration",
    "Predictor",
    "ColorMap",
    "ExtraSamples",
    "SampleFormat",
    "XResolution",
    "YResolution",
    "ResolutionUnit",
    "TileWidth",
    "TileLength",
    "TileOffsets",
    "TileByteCounts",
    "YCbCrSubSampling",
    "YCbCrPositioning",
    "ReferenceBlackWhite",
    "InterColorProfile",
    "JPEGTables",
)
