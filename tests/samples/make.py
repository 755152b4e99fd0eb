"""Build sample files that carry every kind of identifying metadata their format can hold."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageCms

from tests.samples import exiftool
from tests.samples.exiftool import COMMENT, MAKE, MODEL, PERSON, SERIAL, SOFTWARE

GPS_IFD, EXIF_IFD = 0x8825, 0x8769


def picture(size: tuple[int, int] = (96, 64), mode: str = "RGB") -> Image.Image:
    """A small picture with a gradient, so that rotations and re-encodes can be told apart."""
    width, height = size
    image = Image.linear_gradient("L").resize(size)
    if mode == "L":
        return image
    red = image
    green = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    blue = Image.new("L", size, 40)
    blue.paste(255, (0, 0, width // 4, height // 4))  # a marker in the top-left corner
    merged = Image.merge("RGB", (red, green, blue))
    return merged.convert(mode) if mode != "RGB" else merged


def srgb_profile() -> bytes:
    """An sRGB ICC profile (from LittleCMS)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    """``image`` saved in ``fmt`` to bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def pillow_exif(orientation: int = 1) -> bytes:
    """EXIF written by Pillow (no exiftool needed): camera, serial, owner, GPS, time."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131], exif[0x013B] = MAKE, MODEL, SOFTWARE, PERSON
    exif[0x0112] = orientation
    inner = exif.get_ifd(EXIF_IFD)
    inner[0xA431], inner[0xA430], inner[0x9003] = SERIAL, PERSON, "2024:05:01 10:20:30"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "S", (1.0, 40.0, 39.72), "E", (29.0, 13.0, 42.6)
    return exif.tobytes()


def jpeg_with_pillow_exif(orientation: int = 1) -> bytes:
    """A JPEG with EXIF (GPS, make, model, serial, owner) and a comment, by Pillow alone."""
    return encoded(picture(), "JPEG", exif=pillow_exif(orientation), comment=COMMENT.encode())


def png_bomb() -> bytes:
    """A tiny PNG that declares 100,000 × 100,000 pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def jpeg_bomb() -> bytes:
    """A JPEG whose frame header declares 60,000 × 60,000 pixels."""
    data = bytearray(encoded(picture(), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60_000, 60_000)
    return bytes(data)


def tagged(data: bytes, workdir: Path, *extra: str, thumbnail: bool = True) -> bytes:
    """``data`` with every identifying tag exiftool can write into its format."""
    arguments = list(exiftool.IDENTIFYING_TAGS) + list(extra)
    if thumbnail:
        small = encoded(picture((24, 16)), "JPEG")
        arguments += exiftool.thumbnail_arguments(workdir, small)
    return exiftool.write(data, *arguments)


# -- documents ---------------------------------------------------------------------------------

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CORE_TYPE = "application/vnd.openxmlformats-package.core-properties+xml"
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
CORE = (
    DECL + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms='
    '"http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    f"<dc:title>Report by {PERSON}</dc:title><dc:creator>{PERSON}</dc:creator>"
    f"<cp:lastModifiedBy>{PERSON}</cp:lastModifiedBy><cp:revision>7</cp:revision>"
    '<dcterms:created xsi:type="dcterms:W3CDTF">2024-05-01T10:20:30Z</dcterms:created>'
    "</cp:coreProperties>"
)
APP = (
    DECL + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    f'extended-properties"><Application>{SOFTWARE}</Application><Company>Sentinel Mining '
    f"Corp</Company><Manager>{PERSON}</Manager><Template>C:\\Users\\jane\\Sentinel.dotm"
    "</Template><TotalTime>42</TotalTime></Properties>"
)
CUSTOM = (
    DECL + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    'custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
    'docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" '
    f'name="Owner"><vt:lpwstr>{PERSON}</vt:lpwstr></property></Properties>'
)


def _types(overrides: dict[str, str]) -> str:
    rows = "".join(f'<Override PartName="/{p}" ContentType="{t}"/>' for p, t in overrides.items())
    return (
        DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="jpeg" ContentType="image/jpeg"/>'
        '<Default Extension="bin" ContentType="application/vnd.openxmlformats-officedocument.'
        f'spreadsheetml.printerSettings"/>{rows}</Types>'
    )


def _rels(rows: list[tuple[str, str, str, bool]]) -> str:
    body = "".join(
        f'<Relationship Id="{i}" Type="{DOC_REL}/{t}" Target="{target}"'
        + (' TargetMode="External"' if external else "")
        + "/>"
        for i, t, target, external in rows
    )
    return f'{DECL}<Relationships xmlns="{RELS}">{body}</Relationships>'


def _package_rels(main: str) -> str:
    return _rels(
        [
            ("rId1", "officeDocument", main, False),
            ("rId2", "metadata/core-properties", "docProps/core.xml", False),
            ("rId3", "extended-properties", "docProps/app.xml", False),
            ("rId4", "custom-properties", "docProps/custom.xml", False),
            ("rId5", "metadata/thumbnail", "docProps/thumbnail.jpeg", False),
        ]
    )


def _zip(parts: dict[str, str | bytes], comment: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.comment = comment
        for name, content in parts.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 5, 1, 10, 20, 30))
            stored = name == "mimetype"
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def docx(extra: dict[str, str | bytes] | None = None) -> bytes:
    """A Word document with properties, comments, tracked changes, rsids and a GPS photo."""
    ns = (
        f'xmlns:w="{W}" xmlns:r="{R}" xmlns:w14="http://schemas.microsoft.com/office/word/'
        '2010/wordml" xmlns:w15="http://schemas.microsoft.com/office/word/2012/wordml" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
        'mc:Ignorable="w14 w15"'
    )
    document = (
        f"{DECL}<w:document {ns}><w:body>"
        '<w:p w:rsidR="00A1B2C3" w:rsidRDefault="00A1B2C3" w14:paraId="1A2B3C4D" '
        'w14:textId="77777777"><w:r><w:t xml:space="preserve">Visible text &amp; more</w:t></w:r>'
        f'<w:ins w:id="1" w:author="{PERSON}" w:date="2024-05-01T10:20:30Z"><w:r>'
        "<w:t>inserted</w:t></w:r></w:ins>"
        '<w:commentRangeStart w:id="0"/><w:r><w:commentReference w:id="0"/></w:r>'
        '<w:hyperlink r:id="rId7"><w:r><w:t>local link</w:t></w:r></w:hyperlink>'
        '<w:r><w:drawing><a:blip xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/'
        'main" r:embed="rId6"/></w:drawing></w:r></w:p><w:sectPr w:rsidR="00A1B2C3"/>'
        "</w:body></w:document>"
    )
    comments = (
        f'{DECL}<w:comments {ns}><w:comment w:id="0" w:author="{PERSON}" w:initials="JSD" '
        'w:date="2024-05-01T10:20:30Z"><w:p w14:paraId="2B3C4D5E"><w:r><w:t>A comment</w:t>'
        "</w:r></w:p></w:comment></w:comments>"
    )
    people = (
        f'{DECL}<w15:people {ns}><w15:person w15:author="{PERSON}"><w15:presenceInfo '
        'w15:providerId="AD" w15:userId="S::jane@sentinel.example::1234"/></w15:person>'
        "</w15:people>"
    )
    settings = (
        f'{DECL}<w:settings {ns}><w:attachedTemplate r:id="rId1"/><w:docVars><w:docVar '
        f'w:name="owner" w:val="{PERSON}"/></w:docVars><w:rsids><w:rsidRoot w:val="00A1B2C3"/>'
        '<w:rsid w:val="00A1B2C3"/></w:rsids><w15:docId w15:val="{12345678-AAAA-BBBB-CCCC-'
        '1234567890AB}"/></w:settings>'
    )
    word = "application/vnd.openxmlformats-officedocument.wordprocessingml"
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": _types(
            {
                "word/document.xml": f"{word}.document.main+xml",
                "word/comments.xml": f"{word}.comments+xml",
                "word/people.xml": "application/vnd.ms-word.people+xml",
                "word/settings.xml": f"{word}.settings+xml",
                "docProps/core.xml": CORE_TYPE,
                "docProps/app.xml": "application/vnd.openxmlformats-officedocument.extended-"
                "properties+xml",
                "docProps/custom.xml": "application/vnd.openxmlformats-officedocument.custom-"
                "properties+xml",
            }
        ),
        "_rels/.rels": _package_rels("word/document.xml"),
        "docProps/core.xml": CORE,
        "docProps/app.xml": APP,
        "docProps/custom.xml": CUSTOM,
        "docProps/thumbnail.jpeg": jpeg_with_pillow_exif(),
        "word/document.xml": document,
        "word/_rels/document.xml.rels": _rels(
            [
                ("rId1", "comments", "comments.xml", False),
                ("rId2", "settings", "settings.xml", False),
                (
                    "rId3",
                    "http://schemas.microsoft.com/office/2011/relationships/people",
                    "people.xml",
                    False,
                ),
                ("rId4", "customXml", "../customXml/item1.xml", False),
                ("rId6", "image", "media/image1.jpeg", False),
                ("rId7", "hyperlink", "file:///C:/Users/jane/Sentinel%20notes.docx", True),
                ("rId8", "printerSettings", "printerSettings/printerSettings1.bin", False),
            ]
        ),
        "word/_rels/settings.xml.rels": _rels(
            [
                ("rId1", "attachedTemplate", "file:///C:/Users/jane/Templates/Sentinel.dotm", True),
            ]
        ),
        "word/comments.xml": comments,
        "word/people.xml": people,
        "word/settings.xml": settings,
        "word/media/image1.jpeg": jpeg_with_pillow_exif(),
        "word/printerSettings/printerSettings1.bin": b"\\\\SENTINEL-PRINTER-3F" + bytes(64),
        "customXml/item1.xml": f"<root><owner>{PERSON}</owner></root>",
    }
    parts.update(extra or {})
    return _zip(parts, comment=b"sentinel archive comment")


def xlsx() -> bytes:
    """A spreadsheet with comment authors, a local path and a OneDrive document id."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    workbook = (
        f'{DECL}<workbook xmlns="{main}" xmlns:r="{R}" xmlns:mc="http://schemas.openxmlformats.'
        'org/markup-compatibility/2006" xmlns:x15ac="http://schemas.microsoft.com/office/'
        'spreadsheetml/2010/11/ac" xmlns:xr="http://schemas.microsoft.com/office/'
        'spreadsheetml/2014/revision" mc:Ignorable="x15ac xr"><fileVersion appName="xl" '
        'lastEdited="7" lowestEdited="7" rupBuild="27328"/><fileSharing userName="'
        f'{PERSON}"/><mc:AlternateContent><mc:Choice Requires="x15"><x15ac:absPath '
        'url="C:\\Users\\jane\\Desktop\\"/></mc:Choice></mc:AlternateContent>'
        '<xr:revisionPtr revIDLastSave="0" documentId="8_{AAAA-BBBB}"/>'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    sheet = (
        f'{DECL}<worksheet xmlns="{main}" xmlns:xr="http://schemas.microsoft.com/office/'
        'spreadsheetml/2014/revision" xr:uid="{CCCC-DDDD}"><sheetData><row r="1"><c r="A1" '
        't="inlineStr"><is><t>tonnes of coltan</t></is></c></row></sheetData></worksheet>'
    )
    comments = (
        f'{DECL}<comments xmlns="{main}"><authors><author>{PERSON}</author></authors>'
        '<commentList><comment ref="A1" authorId="0"><text><t>check this</t></text></comment>'
        "</commentList></comments>"
    )
    sml = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    return _zip(
        {
            "[Content_Types].xml": _types(
                {
                    "xl/workbook.xml": f"{sml}.sheet.main+xml",
                    "xl/worksheets/sheet1.xml": f"{sml}.worksheet+xml",
                    "xl/comments1.xml": f"{sml}.comments+xml",
                    "docProps/core.xml": CORE_TYPE,
                    "docProps/app.xml": "application/vnd.openxmlformats-officedocument.extended-"
                    "properties+xml",
                }
            ),
            "_rels/.rels": _package_rels("xl/workbook.xml"),
            "docProps/core.xml": CORE,
            "docProps/app.xml": APP,
            "xl/workbook.xml": workbook,
            "xl/_rels/workbook.xml.rels": _rels(
                [("rId1", "worksheet", "worksheets/sheet1.xml", False)]
            ),
            "xl/worksheets/sheet1.xml": sheet,
            "xl/worksheets/_rels/sheet1.xml.rels": _rels(
                [
                    ("rId1", "comments", "../comments1.xml", False),
                    ("rId2", "printerSettings", "../printerSettings/printerSettings1.bin", False),
                ]
            ),
            "xl/comments1.xml": comments,
            "xl/printerSettings/printerSettings1.bin": b"SENTINEL-PRINTER" + bytes(32),
        }
    )


def pptx() -> bytes:
    """A presentation with comment authors and a slide creation id."""
    p = "http://schemas.openxmlformats.org/presentationml/2006/main"
    pml = "application/vnd.openxmlformats-officedocument.presentationml"
    presentation = (
        f'{DECL}<p:presentation xmlns:p="{p}" xmlns:r="{R}"><p:sldIdLst>'
        '<p:sldId id="256" r:id="rId1"/></p:sldIdLst></p:presentation>'
    )
    slide = (
        f'{DECL}<p:sld xmlns:p="{p}" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/'
        'main" xmlns:p14="http://schemas.microsoft.com/office/powerpoint/2010/main"><p:cSld>'
        '<p:spTree/></p:cSld><p:extLst><p:ext uri="{BB962C8B-B14F-4D97-AF65-F5344CB8AC3E}">'
        '<p14:creationId val="1234567890"/></p:ext></p:extLst></p:sld>'
    )
    authors = (
        f'{DECL}<p:cmAuthorLst xmlns:p="{p}"><p:cmAuthor id="1" name="{PERSON}" '
        'initials="JSD" lastIdx="1" clrIdx="0"/></p:cmAuthorLst>'
    )
    return _zip(
        {
            "[Content_Types].xml": _types(
                {
                    "ppt/presentation.xml": f"{pml}.presentation.main+xml",
                    "ppt/slides/slide1.xml": f"{pml}.slide+xml",
                    "ppt/commentAuthors.xml": f"{pml}.commentAuthors+xml",
                    "docProps/core.xml": CORE_TYPE,
                }
            ),
            "_rels/.rels": _package_rels("ppt/presentation.xml"),
            "docProps/core.xml": CORE,
            "ppt/presentation.xml": presentation,
            "ppt/_rels/presentation.xml.rels": _rels(
                [
                    ("rId1", "slide", "slides/slide1.xml", False),
                    ("rId2", "commentAuthors", "commentAuthors.xml", False),
                ]
            ),
            "ppt/slides/slide1.xml": slide,
            "ppt/commentAuthors.xml": authors,
        }
    )


ODF_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


def odt() -> bytes:
    """An OpenDocument text with meta.xml, settings (printer), an annotation and rsids."""
    ns = (
        f'xmlns:office="{ODF_OFFICE}" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:'
        'text:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:meta="urn:oasis:names:'
        'tc:opendocument:xmlns:meta:1.0" xmlns:officeooo="http://openoffice.org/2009/office" '
        'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:draw="urn:oasis:'
        'names:tc:opendocument:xmlns:drawing:1.0" xmlns:xlink="http://www.w3.org/1999/xlink"'
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} '
        'office:version="1.3"><office:automatic-styles><style:style style:name="P1" '
        'style:family="paragraph"><style:text-properties officeooo:rsid="0012ab34" '
        'officeooo:paragraph-rsid="0012ab34"/></style:style></office:automatic-styles>'
        "<office:body><office:text><text:p>Visible text<office:annotation>"
        f"<dc:creator>{PERSON}</dc:creator><dc:date>2024-05-01T10:20:30</dc:date>"
        "<meta:creator-initials>JSD</meta:creator-initials><text:p>a note</text:p>"
        "</office:annotation></text:p><text:p><draw:frame><draw:image xlink:href="
        '"Pictures/photo.jpg"/></draw:frame><text:a xlink:href="file:///home/jane/'
        'sentinel.odt">link</text:a></text:p></office:text></office:body>'
        "</office:document-content>"
    )
    meta = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-meta {ns} office:version="1.3">'
        f"<office:meta><meta:initial-creator>{PERSON}</meta:initial-creator>"
        f"<dc:creator>{PERSON}</dc:creator><meta:generator>{SOFTWARE}</meta:generator>"
        "<meta:creation-date>2024-05-01T10:20:30</meta:creation-date>"
        "<meta:editing-cycles>7</meta:editing-cycles></office:meta></office:document-meta>"
    )
    settings = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-settings {ns}>'
        "<office:settings>SENTINEL-PRINTER-3F</office:settings></office:document-settings>"
    )
    entries = "".join(
        f'<manifest:file-entry manifest:full-path="{path}" manifest:media-type="{kind}"/>'
        for path, kind in (
            ("content.xml", "text/xml"),
            ("meta.xml", "text/xml"),
            ("settings.xml", "text/xml"),
            ("Pictures/photo.jpg", "image/jpeg"),
            ("Thumbnails/thumbnail.png", "image/png"),
        )
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:'
        'names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3"><manifest:file-entry '
        'manifest:full-path="/" manifest:version="1.3" manifest:media-type="application/'
        f'vnd.oasis.opendocument.text"/>{entries}</manifest:manifest>'
    )
    return _zip(
        {
            "mimetype": "application/vnd.oasis.opendocument.text",
            "content.xml": content,
            "meta.xml": meta,
            "settings.xml": settings,
            "Pictures/photo.jpg": jpeg_with_pillow_exif(),
            "Thumbnails/thumbnail.png": encoded(picture((16, 16)), "PNG"),
            "META-INF/manifest.xml": manifest,
        }
    )


def zip_with_entries(count: int) -> bytes:
    """A .docx-shaped ZIP with ``count`` entries (a zip bomb by entry count)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        for i in range(count - 2):
            archive.writestr(f"word/media/{i}.xml", b"")
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """A .docx-shaped ZIP whose one part inflates 1000×."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\x00" * (64 * 1024 * 1024))
    return buffer.getvalue()


def pdf(workdir: Path) -> bytes:
    """A PDF with document info, XMP, an attachment, JavaScript, an annotation author, a
    photo with EXIF, and an earlier revision (an incremental update written by exiftool)."""
    document = pikepdf.new()
    document.add_blank_page(page_size=(200, 200))
    page = document.pages[0]
    photo = jpeg_with_pillow_exif()
    image = pikepdf.Stream(
        document,
        photo,
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=96,
        Height=64,
        ColorSpace=pikepdf.Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=pikepdf.Name.DCTDecode,
    )
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = document.make_stream(b"q 96 0 0 64 10 10 cm /Im0 Do Q")
    document.docinfo["/Author"] = PERSON
    document.docinfo["/Creator"] = SOFTWARE
    with document.open_metadata(set_pikepdf_as_editor=False) as xmp:
        xmp["dc:creator"] = [PERSON]
    document.attachments["notes.txt"] = pikepdf.AttachedFileSpec(document, COMMENT.encode())
    document.Root.OpenAction = pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")
    )
    annotation = document.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Text,
            Rect=[0, 0, 10, 10],
            T=pikepdf.String(PERSON),
            Contents=pikepdf.String("a note"),
            M=pikepdf.String("D:20240501102030"),
            AA=pikepdf.Dictionary(
                E=pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))
            ),
        )
    )
    page.Annots = pikepdf.Array([annotation])
    buffer = io.BytesIO()
    document.save(buffer)
    return exiftool.write(
        buffer.getvalue(), f"-PDF:Producer={SOFTWARE}", f"-PDF:Author={PERSON} (revised)"
    )


# -- audio and video ---------------------------------------------------------------------------

FFMPEG_INPUTS = {
    "video": [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
    ],
    "audio": ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"],
}
MEDIA_TAGS = [
    "-metadata",
    f"title={COMMENT}",
    "-metadata",
    f"artist={PERSON}",
    "-metadata",
    f"comment={COMMENT}",
    "-metadata",
    "location=-01.6777+029.2285/",
    "-metadata",
    f"encoder={SOFTWARE}",
    "-metadata",
    "creation_time=2024-05-01T10:20:30Z",
]


def require_ffmpeg() -> str:
    """The ffmpeg program, or fail with a message saying how to get it."""
    found = shutil.which("ffmpeg")
    if found is None:
        pytest.fail("ffmpeg is missing: run scripts/test.sh (it installs Debian's ffmpeg)")
    return found


def media(workdir: Path, name: str, source: str, codecs: list[str]) -> bytes:
    """A short recording made by ffmpeg (to a file: MP4 puts its index at the end then,
    as phones do), with identifying tags."""
    path = workdir / name
    subprocess.run(
        [
            require_ffmpeg(),
            "-hide_banner",
            "-loglevel",
            "error",
            *FFMPEG_INPUTS[source],
            "-t",
            "1",
            *codecs,
            *MEDIA_TAGS,
            "-y",
            str(path),
        ],
        check=True,
    )
    return path.read_bytes()
