"""PDF: rewrite the whole file with pikepdf (qpdf), keeping the pages and leaving out the rest.

What goes, and why it matters:
- the document information dictionary (author, software, dates) and the trailer's document
  id (its first half is kept by every later save, so it links a copy to the author's file);
- XMP metadata streams, at document level and on pages, pictures and fonts;
- earlier revisions: an edited PDF often keeps the old text in incremental updates. We write
  a fresh file that holds only objects reachable from the current document;
- attachments, JavaScript, actions that run on opening or on events, actions that open
  other files or send data; only "go to page", "open web link" and "named" actions stay;
- application private data (PieceInfo), page thumbnails, web-capture info, digital
  signatures (the signer's certificate names a person), XFA form data;
- the author name and dates of comments (annotations);
- EXIF, XMP and other metadata inside JPEG pictures (``jpeg``) and JPEG 2000 pictures, and
  device details in ICC colour profiles (``icc``).
The document catalogue is rebuilt from an allowlist of entries.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

import pikepdf
from pikepdf import Name

from intake.metadata import icc, jpeg
from intake.metadata.outcome import CannotClean, Output, Report

CATALOG_KEYS = frozenset(
    [
        "/Type",
        "/Pages",
        "/PageLabels",
        "/Names",
        "/Dests",
        "/ViewerPreferences",
        "/PageLayout",
        "/PageMode",
        "/Outlines",
        "/Threads",
        "/URI",
        "/AcroForm",
        "/StructTreeRoot",
        "/MarkInfo",
        "/Lang",
        "/OutputIntents",
        "/OCProperties",
        "/Extensions",
        "/Version",
    ]
)
NAMES_KEYS = frozenset({"/Dests", "/AP", "/Pages", "/Templates"})
# Keys removed from every dictionary in the file.
FORBIDDEN_KEYS = frozenset(
    [
        "/Metadata",
        "/PieceInfo",
        "/AA",
        "/OpenAction",
        "/Thumb",
        "/LastModified",
        "/AF",
        "/EF",
        "/JS",
        "/JavaScript",
        "/EmbeddedFiles",
        "/XFA",
        "/SpiderInfo",
        "/DSS",
        "/Perms",
        "/Collection",
    ]
)
KEY_LABELS = {
    "/Metadata": "XMP",
    "/PieceInfo": "application data (PieceInfo)",
    "/Thumb": "thumbnail",
    "/LastModified": "document dates",
    "/AF": "attached files",
    "/EF": "attached files",
    "/EmbeddedFiles": "attached files",
    "/JS": "JavaScript",
    "/JavaScript": "JavaScript",
    "/XFA": "XFA form data",
    "/SpiderInfo": "web capture information",
    "/DSS": "digital signature data",
    "/Perms": "digital signature data",
    "/Collection": "attached files",
}
ALLOWED_ACTIONS = frozenset({"/GoTo", "/URI", "/Named"})
DROPPED_ANNOTATIONS = frozenset(
    {"/FileAttachment", "/Sound", "/Movie", "/Screen", "/RichMedia", "/3D"}
)
ANNOTATION_PERSONAL_KEYS = ("/T", "/M", "/CreationDate", "/NM")
INFO_LABELS = {
    "/Author": "author",
    "/Creator": "software",
    "/Producer": "software",
    "/Company": "company",
}
JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
JP2_KEPT = (b"jP  ", b"ftyp", b"jp2h", b"jp2c")
MAX_DEPTH = 64


def clean(data: bytes, report: Report) -> Output:
    """A fresh PDF with only the pages, their content and harmless navigation."""
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as error:
        raise CannotClean("the PDF is protected by a password") from error
    except pikepdf.PdfError as error:
        raise CannotClean("the PDF is damaged beyond repair") from error
    with pdf:
        _describe_document(pdf, data, report)
        _rebuild_catalog(pdf, report)
        for obj in list(pdf.objects):
            _scrub_object(obj, report)
        for page in pdf.pages:
            _scrub_annotations(page.obj, report)
        buffer = io.BytesIO()
        pdf.save(
            buffer,
            encryption=False,
            deterministic_id=True,
            fix_metadata_version=False,
            preserve_pdfa=False,
            linearize=False,
        )
    cleaned = buffer.getvalue()
    verify(cleaned)
    return Output(cleaned, "application/pdf", ".pdf")


def _describe_document(pdf: pikepdf.Pdf, data: bytes, report: Report) -> None:
    info = pdf.trailer.get("/Info")
    if isinstance(info, pikepdf.Dictionary):
        for key, value in info.items():
            text = str(value).strip()[:80] if isinstance(value, pikepdf.String) else ""
            if key in INFO_LABELS and text:
                report.saw(f"{INFO_LABELS[key]} ({text})")
            elif key in ("/CreationDate", "/ModDate"):
                report.saw("document dates")
            elif text:
                report.saw("document properties")
        report.dropped("document properties")
        del pdf.trailer["/Info"]
    if "/ID" in pdf.trailer:
        report.dropped("document id")
        del pdf.trailer["/ID"]
    if "/Metadata" in pdf.Root:
        report.saw_and_dropped("XMP")
    if data.count(b"%%EOF") > 1 and not pdf.is_linearized:
        report.saw_and_dropped("earlier revisions of the document")
    names = pdf.Root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        if "/EmbeddedFiles" in names:
            report.saw_and_dropped("attached files")
        if "/JavaScript" in names:
            report.saw_and_dropped("JavaScript")
    if "/OpenAction" in pdf.Root or "/AA" in pdf.Root:
        report.saw_and_dropped("actions that run when the document opens")


def _rebuild_catalog(pdf: pikepdf.Pdf, report: Report) -> None:
    root = pdf.Root
    for key in list(root.keys()):
        if key not in CATALOG_KEYS:
            del root[key]
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        for key in list(names.keys()):
            if key not in NAMES_KEYS:
                del names[key]
    form = root.get("/AcroForm")
    if isinstance(form, pikepdf.Dictionary) and "/XFA" in form:
        report.saw_and_dropped("XFA form data")


def _walk(obj: pikepdf.Object, depth: int = 0) -> Iterator[pikepdf.Object]:
    """``obj`` and every dictionary or stream nested directly in it (not via references)."""
    if depth > MAX_DEPTH:
        raise CannotClean("the PDF is nested too deeply to clean")
    if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
        yield obj
        children = list(obj.values())
    elif isinstance(obj, pikepdf.Array):
        children = list(obj)
    else:
        return
    for child in children:
        # Scalars come back as Python numbers; references are visited on their own.
        if isinstance(child, pikepdf.Object) and not child.is_indirect:
            yield from _walk(child, depth + 1)


def _scrub_object(top: pikepdf.Object, report: Report) -> None:
    for obj in _walk(top):
        for key in FORBIDDEN_KEYS & set(obj.keys()):
            report.saw_and_dropped(KEY_LABELS.get(key, "actions that run on events"))
            del obj[key]
        if "/S" in obj and "/Next" in obj:
            del obj["/Next"]  # a chain of actions after a link: the link itself is enough
        action = obj.get("/A")
        if isinstance(action, pikepdf.Dictionary) and str(action.get("/S")) not in (
            ALLOWED_ACTIONS
        ):
            report.saw_and_dropped("actions (scripts, launching files, sending data)")
            del obj["/A"]
        if obj.get("/FT") == Name.Sig and "/V" in obj:
            report.saw_and_dropped("digital signature (names the signer)")
            del obj["/V"]
        if obj.get("/Type") == Name.Metadata or obj.get("/Subtype") == Name.XML:
            report.saw_and_dropped("XMP")
        if isinstance(obj, pikepdf.Stream):
            _scrub_stream(obj, report)


def _scrub_stream(stream: pikepdf.Stream, report: Report) -> None:
    if stream.get("/Subtype") == Name.Image:
        _scrub_picture(stream, report)
    elif "/N" in stream and "/Type" not in stream and "/Subtype" not in stream:
        profile = stream.read_bytes()
        if profile[36:40] == b"acsp":
            cleaned = icc.sanitize(profile, report)
            if cleaned is None:
                raise CannotClean("a colour profile inside the PDF could not be cleaned")
            stream.write(cleaned)


def _scrub_picture(stream: pikepdf.Stream, report: Report) -> None:
    filters = stream.get("/Filter")
    if isinstance(filters, pikepdf.Array):
        names = [str(f) for f in filters]
        if "/DCTDecode" in names or "/JPXDecode" in names:
            raise CannotClean("a picture inside the PDF is stored in a way we cannot clean")
        return
    if filters == Name.DCTDecode:
        inner = Report()
        cleaned = jpeg.clean(stream.read_raw_bytes(), inner, orient=False).data
        _merge(inner, report)
        parms = stream.get("/DecodeParms")
        if not isinstance(parms, (pikepdf.Dictionary, pikepdf.Array)):
            parms = None
        stream.write(cleaned, filter=Name.DCTDecode, decode_parms=parms)
    elif filters == Name.JPXDecode:
        raw = stream.read_raw_bytes()
        cleaned = _clean_jp2(raw, report)
        if cleaned != raw:
            stream.write(cleaned, filter=Name.JPXDecode)


def _merge(inner: Report, report: Report) -> None:
    for item in inner.found:
        report.saw_and_dropped(f"{item} (in a picture)")
    if inner.location and report.location is None:
        report.location = inner.location
    if inner.taken_at and report.taken_at is None:
        report.taken_at = inner.taken_at


def _clean_jp2(data: bytes, report: Report) -> bytes:
    """A JPEG 2000 file with only its header and codestream boxes (XML, UUID boxes go)."""
    if data.startswith(b"\xff\x4f\xff\x51"):
        return data  # a bare codestream has no boxes to carry metadata
    if not data.startswith(JP2_SIGNATURE):
        raise CannotClean("a JPEG 2000 picture inside the PDF is damaged")
    out = bytearray()
    pos = 0
    while pos < len(data):
        if pos + 8 > len(data):
            raise CannotClean("a JPEG 2000 picture inside the PDF is damaged")
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:
            size = len(data) - pos
        if size < 8 or pos + size > len(data):
            raise CannotClean("a JPEG 2000 picture inside the PDF is damaged")
        if kind in JP2_KEPT:
            out += data[pos : pos + size]
        else:
            report.saw_and_dropped("metadata in a JPEG 2000 picture")
        pos += size
    return bytes(out)


def _scrub_annotations(page: pikepdf.Dictionary, report: Report) -> None:
    annots = page.get("/Annots")
    if not isinstance(annots, pikepdf.Array):
        return
    kept = []
    for annot in annots:
        if not isinstance(annot, pikepdf.Dictionary):
            continue
        subtype = str(annot.get("/Subtype", ""))
        if subtype in DROPPED_ANNOTATIONS:
            report.saw_and_dropped("attached files or media in comments")
            continue
        if subtype != "/Widget":  # a form field's /T is its name, not a person's
            author = annot.get("/T")
            if isinstance(author, pikepdf.String) and str(author).strip():
                report.saw_and_dropped(f"comment author ({str(author).strip()[:80]})")
            for key in ANNOTATION_PERSONAL_KEYS:
                if key in annot:
                    del annot[key]
        kept.append(annot)
    page["/Annots"] = pikepdf.Array(kept)


def verify(data: bytes) -> None:
    """Re-open a cleaned PDF and check that none of what we remove is left anywhere."""
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PdfError as error:
        raise CannotClean("the cleaned PDF could not be read back") from error
    with pdf:
        if "/Info" in pdf.trailer or not set(pdf.Root.keys()) <= CATALOG_KEYS:
            raise CannotClean("the cleaned PDF still had document properties")
        if "/Prev" in pdf.trailer:
            raise CannotClean("the cleaned PDF still had earlier revisions")
        for top in pdf.objects:
            for obj in _walk(top):
                _verify_object(obj)


def _verify_object(obj: pikepdf.Object) -> None:
    if FORBIDDEN_KEYS & set(obj.keys()):
        raise CannotClean("the cleaned PDF still had metadata, attachments or scripts")
    if obj.get("/Type") in (Name.Metadata, Name.EmbeddedFile) or obj.get("/Subtype") == Name.XML:
        raise CannotClean("the cleaned PDF still had a metadata stream")
    action = obj.get("/A")
    if ("/S" in obj and "/Next" in obj) or (
        isinstance(action, pikepdf.Dictionary) and str(action.get("/S")) not in ALLOWED_ACTIONS
    ):
        raise CannotClean("the cleaned PDF still had an action")
    if isinstance(obj, pikepdf.Stream) and obj.get("/Filter") == Name.DCTDecode:
        jpeg.verify(obj.read_raw_bytes())
