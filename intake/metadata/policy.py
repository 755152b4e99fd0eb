"""What cleaning does to each kind of file, in plain words, to tell a source before sending.

``policy(filename, declared_type)`` answers for one file about to be sent (by its name and
type, since the page has not seen its bytes yet; the server still decides by the bytes).
``POLICIES`` lists every family, in the order a help page shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.metadata.families import FAMILIES, family_named
from intake.metadata.limits import CLEAN_MAX_BYTES, MIB
from intake.metadata.outcome import Kind

POSITION_NOTE = (
    "The GPS position and the time the picture was taken are kept only if you tick the box, "
    "and then only as separate evidence for the investigators, never inside the file."
)
TOO_LARGE = (
    f"Files larger than {CLEAN_MAX_BYTES // MIB} MiB cannot be cleaned; they are stored as "
    "sent and marked as not cleaned."
)


@dataclass(frozen=True)
class Policy:
    """What happens to one kind of file: removed, kept, and what we cannot do."""

    family: str
    label: str
    kind: Kind
    cleaned: bool  # False: files of this kind are stored as sent and flagged not cleaned
    removed: tuple[str, ...]
    kept: tuple[str, ...]
    warning: str | None = None
    max_bytes: int = CLEAN_MAX_BYTES


PICTURE_REMOVED = (
    "GPS position",
    "camera make, model and serial numbers",
    "owner and author names",
    "software names",
    "date and time",
    "thumbnails",
    "XMP and IPTC data",
    "comments and descriptions",
    "device details in the colour profile",
    "anything hidden after the end of the picture",
)
PICTURE_KEPT = ("the picture itself", "its colour profile (with a neutral name)")
DOCUMENT_WARNING = (
    "The text, tables and pictures you wrote stay as they are, including anything you typed "
    "that names you, tracked changes and comments (their author names are replaced)."
)
MEDIA_REMOVED = (
    "GPS position",
    "device make and model",
    "software names",
    "recording date",
    "titles, comments and other tags",
    "chapters, GPS tracks, subtitles and cover pictures",
)
MEDIA_KEPT = ("the picture and sound, copied unchanged",)
MEDIA_WARNING = (
    "Voices, faces, sounds and places in the recording itself can identify you; cleaning "
    "cannot change them."
)
OOXML_REMOVED = (
    "author and last-editor names",
    "company, manager and template path",
    "document dates, editing time and revision number",
    "revision ids and paragraph ids (which can match your copy to the original)",
    "names and accounts of comment and change authors",
    "custom properties, SharePoint and sensitivity-label data",
    "printer settings and thumbnails",
    "metadata of pictures inside the document",
)


def _policy(
    name: str,
    cleaned: bool,
    removed: tuple[str, ...] = (),
    kept: tuple[str, ...] = (),
    warning: str | None = None,
) -> Policy:
    family = FAMILIES[name]
    return Policy(name, family.label, family.kind, cleaned, removed, kept, warning)


def _pictures() -> list[Policy]:
    return [
        _policy(
            "jpeg",
            True,
            PICTURE_REMOVED,
            PICTURE_KEPT,
            "A picture stored sideways is turned upright, which re-encodes it at high "
            "quality; other JPEGs keep their exact pixels. " + POSITION_NOTE,
        ),
        _policy(
            "png",
            True,
            (*PICTURE_REMOVED, "text chunks, save time and print density"),
            PICTURE_KEPT + ("transparency and animation",),
            POSITION_NOTE,
        ),
        _policy(
            "gif",
            True,
            ("comments", "XMP and application data"),
            ("the picture, its frames and its looping",),
        ),
        _policy(
            "webp",
            True,
            PICTURE_REMOVED,
            PICTURE_KEPT + ("transparency and animation",),
            POSITION_NOTE,
        ),
        _policy(
            "tiff",
            True,
            (*PICTURE_REMOVED, "all other TIFF tags"),
            ("every page, re-encoded without loss",),
            POSITION_NOTE,
        ),
        _policy(
            "heif",
            True,
            (*PICTURE_REMOVED, "depth maps and other hidden pictures"),
            ("the main picture, converted to JPEG (or PNG if it is transparent)",),
            "Live Photos and bursts keep only the main picture. " + POSITION_NOTE,
        ),
        _policy(
            "raw",
            False,
            warning="Camera raw files cannot be cleaned. Send a JPEG "
            "exported from the camera or phone instead.",
        ),
    ]


def _documents() -> list[Policy]:
    office = [
        _policy(name, True, OOXML_REMOVED, ("the content of the document",), DOCUMENT_WARNING)
        for name in ("docx", "xlsx", "pptx", "odt", "ods", "odp")
    ]
    return [
        _policy(
            "pdf",
            True,
            (
                "document properties (author, software, dates) and XMP",
                "earlier versions of the document kept inside the file",
                "attachments, JavaScript and automatic actions",
                "comment author names and digital signatures",
                "metadata of pictures inside the PDF",
            ),
            ("the pages, their text and pictures, links and bookmarks",),
            DOCUMENT_WARNING,
        ),
        *office,
        _policy(
            "legacy-office",
            False,
            warning="Old Office files (.doc, .xls, .ppt) cannot "
            "be cleaned. Save the file as .docx, .xlsx, .pptx or PDF and send that.",
        ),
        _policy("rtf", False, warning="RTF files cannot be cleaned. Save as .docx or PDF."),
        _policy(
            "markup",
            False,
            warning="HTML, XML and SVG files can hide metadata we cannot "
            "remove. Send a PDF or a screenshot instead.",
        ),
    ]


def _media() -> list[Policy]:
    return [
        _policy(
            name,
            True,
            MEDIA_REMOVED,
            MEDIA_KEPT,
            MEDIA_WARNING + (" The file is converted to Matroska (.mkv)." if name == "avi" else ""),
        )
        for name in ("mp4", "m4a", "matroska", "avi", "mp3", "adts", "ogg", "flac", "amr")
    ] + [
        _policy(
            "wav",
            True,
            ("artist, comment, software and date fields", "broadcast and recorder metadata"),
            MEDIA_KEPT,
            MEDIA_WARNING,
        )
    ]


def _others() -> list[Policy]:
    return [
        _policy(
            "text",
            True,
            (),
            ("the text",),
            "Plain text carries no hidden metadata; what you write in it stays.",
        ),
        _policy(
            "zip", False, warning="Archives cannot be cleaned. Send the files in them one by one."
        ),
        _policy(
            "unknown",
            False,
            warning="We cannot clean this kind of file. It will be "
            "stored as you send it, with any metadata it carries.",
        ),
    ]


POLICIES: dict[str, Policy] = {
    p.family: p for p in (*_pictures(), *_documents(), *_media(), *_others())
}


def policy(filename: str, declared_type: str) -> Policy:
    """What cleaning will do to a file with this name and declared type."""
    family = family_named(filename, declared_type)
    return POLICIES.get(family.name if family else "unknown", POLICIES["unknown"])
