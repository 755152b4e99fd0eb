"""Documents: PDF and Office files lose their properties, hidden history and pictures' EXIF.

Each cleaned document is judged twice: by exiftool, and by unpacking it ourselves and looking
for the sentinel values in every part (inflated) or object (decoded).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pikepdf
import pytest

from intake.metadata import office, pdf, xmlrewrite
from intake.metadata.dispatch import clean_bytes
from intake.metadata.outcome import CannotClean, Outcome
from tests.samples import exiftool, make
from tests.samples.exiftool import PERSON, SOFTWARE

LEAKS = (
    PERSON.encode(),
    b"Sentinel",
    b"SENTINEL",
    b"jane",
    b"rsid",
    b"paraId",
    b"docId",
    b"revisionPtr",
    b"absPath",
    b"creationId",
    b"2024-05-01",
)


def _clean(data: bytes, filename: str) -> Outcome:
    return clean_bytes(data, filename=filename, declared_type="")


def _leaks(data: bytes) -> list[str]:
    """Sentinels found in any inflated part of a ZIP package."""
    found = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            content = archive.read(info)
            found += [f"{info.filename}: {leak.decode()}" for leak in LEAKS if leak in content]
            if info.date_time != (1980, 1, 1, 0, 0, 0) or info.extra or info.comment:
                found.append(f"{info.filename}: ZIP entry date, extra field or comment")
        if archive.comment:
            found.append("archive comment")
    return found


def _exiftool_reads_office() -> bool:
    """exiftool decodes OOXML properties only with Perl's Archive::Zip (libarchive-zip-perl)."""
    tags = exiftool.read(make.docx())
    return "ExifTool:Warning" not in tags and any(k.startswith("XML:") for k in tags)


OFFICE = {
    "docx": ("report.docx", make.docx),
    "xlsx": ("figures.xlsx", make.xlsx),
    "pptx": ("slides.pptx", make.pptx),
    "odt": ("report.odt", make.odt),
}


@pytest.fixture(scope="module", params=sorted(OFFICE))
def office_document(request: pytest.FixtureRequest) -> tuple[str, bytes, Outcome]:
    """(family, original, outcome) for each Office format."""
    filename, build = OFFICE[request.param]
    original = build()
    return request.param, original, _clean(original, filename)


def test_sample_documents_really_carry_identifying_metadata(
    office_document: tuple[str, bytes, Outcome],
) -> None:
    _, original, _ = office_document
    assert len(_leaks(original)) > 3


def test_office_documents_come_out_with_nothing_identifying(
    office_document: tuple[str, bytes, Outcome],
) -> None:
    family, _, outcome = office_document
    assert outcome.status == "cleaned", outcome.reason
    assert outcome.kind == "document"
    assert _leaks(outcome.data) == []
    if _exiftool_reads_office():
        exiftool.assert_clean(outcome.data)


def test_office_reports_name_the_author(office_document: tuple[str, bytes, Outcome]) -> None:
    _, _, outcome = office_document
    assert f"author ({PERSON})" in outcome.found
    assert "document dates" in outcome.found
    assert any(item.startswith("authors of comments and changes") for item in outcome.found)


def test_office_documents_stay_well_formed(office_document: tuple[str, bytes, Outcome]) -> None:
    """Every XML part parses, every internal link resolves, every part has a content type."""
    family, _, outcome = office_document
    with zipfile.ZipFile(io.BytesIO(outcome.data)) as archive:
        names = archive.namelist()
        for name in names:
            if name.endswith((".xml", ".rels")):
                xmlrewrite.elements(archive.read(name))
        if family == "odt":
            assert names[0] == "mimetype"
            assert archive.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
            manifest = archive.read("META-INF/manifest.xml").decode()
            assert all(
                f'full-path="{n}"' in manifest
                for n in names
                if n not in ("mimetype", "META-INF/manifest.xml")
            )
            return
        types = archive.read("[Content_Types].xml").decode()
        for name in names:
            if name.endswith(".rels"):
                source = office.posixpath.dirname(office.posixpath.dirname(name))
                for element, attrs in xmlrewrite.elements(archive.read(name)):
                    if element == "Relationship" and attrs.get("TargetMode") != "External":
                        target = office._resolve(source, attrs["Target"])
                        assert target in names or target.startswith("docProps/"), target
        for element, attrs in xmlrewrite.elements(types.encode()):
            if element == "Override":
                assert attrs["PartName"].lstrip("/") in names


def test_word_keeps_its_text_and_namespace_prefixes() -> None:
    outcome = _clean(make.docx(), "report.docx")
    with zipfile.ZipFile(io.BytesIO(outcome.data)) as archive:
        document = archive.read("word/document.xml").decode()
        comments = archive.read("word/comments.xml").decode()
        names = archive.namelist()
    assert "Visible text &amp; more" in document
    assert "inserted" in document
    assert 'mc:Ignorable="w14 w15"' in document
    assert "xmlns:w14=" in document
    assert 'w:author="Author"' in document
    assert 'w:author="Author"' in comments
    for part in (
        "word/people.xml",
        "docProps/custom.xml",
        "docProps/thumbnail.jpeg",
        "customXml/item1.xml",
        "word/printerSettings/printerSettings1.bin",
    ):
        assert part not in names
    assert "GPS position (in image1.jpeg)" in outcome.found
    with zipfile.ZipFile(io.BytesIO(outcome.data)) as archive:
        exiftool.assert_clean(archive.read("word/media/image1.jpeg"))


@pytest.mark.parametrize(
    ("case", "build", "reason"),
    [
        ("10,000 entries", lambda: make.zip_with_entries(10_000), "too many parts"),
        ("a part that inflates 1000x", make.zip_bomb, "inflates too much"),
        ("macros", lambda: make.docx({"word/vbaProject.bin": b"\x00" * 64}), "macros"),
        (
            "an embedded object",
            lambda: make.docx({"word/embeddings/oleObject1.bin": b"x"}),
            "embedded files",
        ),
        ("an unknown part", lambda: make.docx({"word/secret/notes.bin": b"x"}), "cannot check"),
        (
            "a DTD",
            lambda: make.docx({"word/footnotes.xml": '<!DOCTYPE x [<!ENTITY a "b">]><x/>'}),
            "DTD",
        ),
        (
            "broken XML",
            lambda: make.docx({"word/footnotes.xml": "<w:footnotes><w:p>"}),
            "not well-formed",
        ),
        ("a damaged ZIP", lambda: make.docx()[:300], "damaged"),
    ],
)
def test_hostile_office_documents_are_not_cleaned(case: str, build: object, reason: str) -> None:
    data = build()  # type: ignore[operator]
    outcome = _clean(data, "report.docx")
    assert outcome.status == "not_cleaned", case
    assert outcome.reason
    assert reason in outcome.reason


def test_plain_zip_archives_are_not_cleaned() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", make.jpeg_with_pillow_exif())
    outcome = _clean(buffer.getvalue(), "photos.zip")
    assert outcome.status == "not_cleaned"
    assert outcome.reason
    assert "archives" in outcome.reason


def test_the_office_verifier_catches_a_leftover() -> None:
    with pytest.raises(CannotClean, match="identifying XML"):
        office._verify(
            {"word/document.xml": b'<w:p xmlns:w="x" w:rsidR="00AB"/>'},
            office.OOXML_PARTS,
            office.OOXML_RULES,
        )


# -- PDF ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdf_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Outcome]:
    """A hostile-ish PDF and its cleaned outcome."""
    original = make.pdf(tmp_path_factory.mktemp("pdf"))
    return original, _clean(original, "report.pdf")


def _pdf_objects_text(data: bytes) -> bytes:
    """Every object and every decoded stream of a PDF, as bytes, to search for leaks."""
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(data)) as document:
        out.write(repr(document.trailer).encode())
        for obj in document.objects:
            out.write(
                repr(obj).encode(errors="replace")
                if not isinstance(obj, pikepdf.Stream)
                else repr(dict(obj.items())).encode()
            )
            if isinstance(obj, pikepdf.Stream):
                try:
                    out.write(obj.read_bytes())
                except pikepdf.PdfError:
                    out.write(obj.read_raw_bytes())
    return out.getvalue()


def test_the_pdf_sample_really_carries_metadata(pdf_case: tuple[bytes, Outcome]) -> None:
    original, _ = pdf_case
    assert original.count(b"%%EOF") == 2  # exiftool appended an incremental update
    assert PERSON.encode() in _pdf_objects_text(original)


def test_a_pdf_comes_out_with_nothing_identifying(pdf_case: tuple[bytes, Outcome]) -> None:
    _, outcome = pdf_case
    assert outcome.status == "cleaned", outcome.reason
    exiftool.assert_clean(outcome.data)
    text = _pdf_objects_text(outcome.data)
    for leak in (
        PERSON.encode(),
        b"Sentinel",
        b"app.alert",
        b"calc.exe",
        b"/JavaScript",
        b"/EmbeddedFile",
        b"/Metadata",
        b"/Launch",
        b"xpacket",
        b"Exif",
    ):
        assert leak not in text, leak
    assert outcome.data.count(b"%%EOF") == 1


def test_a_pdf_keeps_its_page_and_picture(pdf_case: tuple[bytes, Outcome]) -> None:
    _, outcome = pdf_case
    with pikepdf.open(io.BytesIO(outcome.data)) as document:
        assert len(document.pages) == 1
        image = document.pages[0].Resources.XObject.Im0
        assert image.read_raw_bytes().startswith(b"\xff\xd8")
        annotation = document.pages[0].Annots[0]
        assert str(annotation.Contents) == "a note"
        assert "/T" not in annotation


def test_the_pdf_report(pdf_case: tuple[bytes, Outcome]) -> None:
    _, outcome = pdf_case
    for item in (
        "earlier revisions of the document",
        "XMP",
        "attached files",
        f"comment author ({PERSON})",
        f"software ({SOFTWARE})",
        "GPS position (in a picture)",
    ):
        assert item in outcome.found, item
    assert "document id" in outcome.removed
    assert outcome.location is not None


def test_a_pdf_document_id_is_replaced(pdf_case: tuple[bytes, Outcome]) -> None:
    original, outcome = pdf_case
    with (
        pikepdf.open(io.BytesIO(original)) as before,
        pikepdf.open(io.BytesIO(outcome.data)) as after,
    ):
        assert bytes(before.trailer.ID[0]) != bytes(after.trailer.ID[0])


@pytest.mark.parametrize(
    ("case", "data", "reason"),
    [
        ("truncated to its header", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<", "damaged"),
        ("garbage after the header", b"%PDF-1.4\n" + bytes(range(256)) * 8, "damaged"),
    ],
)
def test_broken_pdfs_are_not_cleaned(case: str, data: bytes, reason: str) -> None:
    outcome = _clean(data, "report.pdf")
    assert outcome.status == "not_cleaned", case
    assert outcome.reason
    assert reason in outcome.reason


def test_a_password_protected_pdf_is_not_cleaned(tmp_path: Path) -> None:
    document = pikepdf.new()
    document.add_blank_page()
    buffer = io.BytesIO()
    document.save(buffer, encryption=pikepdf.Encryption(user="secret", owner="secret"))
    outcome = _clean(buffer.getvalue(), "locked.pdf")
    assert outcome.status == "not_cleaned"
    assert outcome.reason == "the PDF is protected by a password"


def test_the_pdf_verifier_catches_a_leftover() -> None:
    document = pikepdf.new()
    document.add_blank_page()
    document.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("x"))
    buffer = io.BytesIO()
    document.save(buffer)
    with pytest.raises(CannotClean):
        pdf.verify(buffer.getvalue())
