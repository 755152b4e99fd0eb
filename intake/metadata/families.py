"""The kinds of file we recognise, with the names, media types and extensions they go by."""

from __future__ import annotations

from dataclasses import dataclass

from intake.metadata.outcome import Kind


@dataclass(frozen=True)
class Family:
    """One format family: what we call it, and how files of it are named and typed."""

    name: str
    label: str  # plain words for a person: "JPEG picture"
    kind: Kind
    media_type: str  # the media type of a file of this family
    extension: str  # its usual extension
    other_extensions: tuple[str, ...] = ()
    other_media_types: tuple[str, ...] = ()


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("jpeg", "JPEG picture", "image", "image/jpeg", ".jpg", (".jpeg", ".jpe", ".jfif")),
        Family("png", "PNG picture", "image", "image/png", ".png", (".apng",), ("image/apng",)),
        Family("gif", "GIF picture", "image", "image/gif", ".gif"),
        Family("webp", "WebP picture", "image", "image/webp", ".webp"),
        Family("tiff", "TIFF picture", "image", "image/tiff", ".tif", (".tiff",)),
        Family(
            "heif",
            "HEIC/HEIF/AVIF picture",
            "image",
            "image/heic",
            ".heic",
            (".heif", ".hif", ".avif"),
            ("image/heif", "image/avif", "image/heic-sequence", "image/heif-sequence"),
        ),
        Family(
            "raw",
            "camera raw picture",
            "image",
            "image/x-raw",
            ".dng",
            (".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf"),
            ("image/x-adobe-dng", "image/x-canon-cr2", "image/x-nikon-nef"),
        ),
        Family("pdf", "PDF document", "document", "application/pdf", ".pdf"),
        Family(
            "docx",
            "Word document",
            "document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ".docx",
        ),
        Family(
            "xlsx",
            "Excel spreadsheet",
            "document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ".xlsx",
        ),
        Family(
            "pptx",
            "PowerPoint presentation",
            "document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ".pptx",
        ),
        Family(
            "odt",
            "OpenDocument text",
            "document",
            "application/vnd.oasis.opendocument.text",
            ".odt",
        ),
        Family(
            "ods",
            "OpenDocument spreadsheet",
            "document",
            "application/vnd.oasis.opendocument.spreadsheet",
            ".ods",
        ),
        Family(
            "odp",
            "OpenDocument presentation",
            "document",
            "application/vnd.oasis.opendocument.presentation",
            ".odp",
        ),
        Family(
            "legacy-office",
            "old Microsoft Office document",
            "document",
            "application/x-ole-storage",
            ".doc",
            (".xls", ".ppt", ".msg"),
            ("application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"),
        ),
        Family("rtf", "RTF document", "document", "application/rtf", ".rtf", (), ("text/rtf",)),
        Family(
            "zip",
            "ZIP archive",
            "other",
            "application/zip",
            ".zip",
            (".7z", ".rar", ".tar", ".gz"),
            ("application/x-zip-compressed",),
        ),
        Family(
            "mp4",
            "MP4/MOV video",
            "video",
            "video/mp4",
            ".mp4",
            (".mov", ".m4v", ".3gp", ".3g2"),
            ("video/quicktime", "video/3gpp", "video/3gpp2"),
        ),
        Family(
            "m4a",
            "M4A audio",
            "audio",
            "audio/mp4",
            ".m4a",
            (".m4b",),
            ("audio/x-m4a", "audio/aac"),
        ),
        Family(
            "matroska",
            "Matroska/WebM video",
            "video",
            "video/x-matroska",
            ".mkv",
            (".webm", ".mka"),
            ("video/webm", "audio/webm", "audio/x-matroska"),
        ),
        Family("avi", "AVI video", "video", "video/x-msvideo", ".avi", (), ("video/avi",)),
        Family("mp3", "MP3 audio", "audio", "audio/mpeg", ".mp3", (), ("audio/mp3",)),
        Family("adts", "AAC audio", "audio", "audio/aac", ".aac", (), ("audio/x-aac",)),
        Family(
            "ogg",
            "Ogg audio (Opus, Vorbis)",
            "audio",
            "audio/ogg",
            ".ogg",
            (".opus", ".oga"),
            ("audio/opus", "application/ogg"),
        ),
        Family("flac", "FLAC audio", "audio", "audio/flac", ".flac", (), ("audio/x-flac",)),
        Family(
            "wav", "WAV audio", "audio", "audio/wav", ".wav", (), ("audio/x-wav", "audio/vnd.wave")
        ),
        Family("amr", "AMR voice recording", "audio", "audio/amr", ".amr", (), ("audio/3gpp",)),
        Family("text", "plain text", "text", "text/plain", ".txt", (".csv", ".md", ".log")),
        Family(
            "markup",
            "HTML, XML or SVG file",
            "document",
            "text/html",
            ".html",
            (".htm", ".xml", ".svg", ".xhtml"),
            ("image/svg+xml", "application/xml", "text/xml"),
        ),
        Family(
            "unknown",
            "file of a kind we do not recognise",
            "other",
            "application/octet-stream",
            ".bin",
        ),
    )
}


def family_named(filename: str, declared_type: str) -> Family | None:
    """The family a file's name (first) or declared media type points to, if any."""
    dot = filename.rfind(".")
    ext = filename[dot:].lower() if dot >= 0 else ""
    declared = declared_type.split(";")[0].strip().lower()
    by_ext = by_type = None
    for family in FAMILIES.values():
        if ext and ext in (family.extension, *family.other_extensions):
            by_ext = by_ext or family
        if declared and declared in (family.media_type, *family.other_media_types):
            by_type = by_type or family
    return by_ext or by_type
