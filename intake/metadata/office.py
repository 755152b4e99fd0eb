"""Office documents (OOXML: docx, xlsx, pptx; ODF: odt, ods, odp): rebuild the ZIP in memory.

Every part of the package is matched against a table of parts we know; a part we do not know
makes the document not clean. Known parts are dropped (custom properties, thumbnails,
printer settings that name the printer, SharePoint data, comment-author accounts, change
history, sensitivity labels), rewritten (document properties emptied; relationships and the
content-type list rebuilt without the dropped parts; XML rewritten by ``xmlrewrite`` without
revision ids, paragraph ids, document ids, author names and dates of comments and tracked
changes, template and local file paths), cleaned by their own cleaner (pictures, media), or
kept (embedded fonts). The ZIP itself is written fresh: no archive comment, no file dates,
no owner ids in extra fields.

ZIP bombs are stopped before anything is inflated: too many entries, too many bytes in all,
or one entry that inflates too much.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass

from intake.metadata import embedded, xmlrewrite
from intake.metadata.limits import (
    XML_MAX_BYTES,
    ZIP_MAX_ENTRIES,
    ZIP_MAX_RATIO,
    ZIP_MAX_TOTAL_BYTES,
)
from intake.metadata.outcome import CannotClean, Output, Report
from intake.metadata.sniff import Detected
from intake.metadata.xmlrewrite import Findings, Rules

OOXML = ("docx", "xlsx", "pptx")
ODF = ("odt", "ods", "odp")
FAMILIES = OOXML + ODF
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
MANIFEST_NS = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
OOXML_CORE = (
    xmlrewrite.DECLARATION + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/'
    'package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
).encode()
OOXML_APP = (
    xmlrewrite.DECLARATION + '<Properties xmlns="http://schemas.openxmlformats.org/'
    'officeDocument/2006/extended-properties" xmlns:vt="http://schemas.openxmlformats.org/'
    'officeDocument/2006/docPropsVTypes"/>'
).encode()
ODF_META = (
    xmlrewrite.DECLARATION + '<office:document-meta xmlns:office="urn:oasis:names:tc:'
    'opendocument:xmlns:office:1.0" office:version="{version}"><office:meta/>'
    "</office:document-meta>"
)
BLANK_LINK = "about:blank"

DATES = "dates of comments and changes"
AUTHORS = "authors of comments and changes"
OOXML_RULES = Rules(
    drop_elements={
        "rsids": "revision ids",
        "presenceInfo": "account ids",
        "attachedTemplate": "template path",
        "docVars": "document variables",
        "revisionPtr": "document id (OneDrive/SharePoint)",
        "absPath": "paths on the author's computer",
        "creationId": "unique ids",
        "docId": "document id",
        "custDataLst": "custom tags",
        "fileSharing": "author name",
    },
    drop_attributes={
        "paraId": "paragraph ids",
        "textId": "paragraph ids",
        "date": DATES,
        "dateUtc": DATES,
        "dt": DATES,
        "dT": DATES,
        "refreshedDate": DATES,
        "uid": "unique ids",
        "durableId": "unique ids",
        "lastEdited": "software version",
        "lowestEdited": "software version",
        "rupBuild": "software version",
    },
    drop_attribute_patterns=((re.compile(r"^rsid"), "revision ids"),),
    neutral_attributes={
        "author": ("Author", AUTHORS),
        "initials": ("A", "author initials"),
        "refreshedBy": ("Author", "author names"),
        "displayName": ("Author", "author names"),
        "cmAuthor/name": ("Author", AUTHORS),
        "author/name": ("Author", AUTHORS),
        "created": ("2000-01-01T00:00:00Z", DATES),
        # required in PowerPoint's modern comment authors, so neutralised rather than dropped
        "userId": ("Author", "account ids"),
        "providerId": ("None", "account ids"),
    },
    neutral_text={"authors/author": ("Author", AUTHORS)},
    path_attributes=frozenset({"href"}),
)
ODF_RULES = Rules(
    drop_elements={"creator-initials": "author initials"},
    drop_attribute_patterns=((re.compile(r".*rsid$"), "revision ids"),),
    neutral_text={
        "change-info/creator": ("Author", AUTHORS),
        "change-info/date": ("2000-01-01T00:00:00", DATES),
        "annotation/creator": ("Author", AUTHORS),
        "annotation/date": ("2000-01-01T00:00:00", DATES),
        "author-name": ("Author", "author name fields"),
        "author-initials": ("A", "author name fields"),
        **{
            f"sender-{field}": ("", "sender fields (name, address)")
            for field in [
                "firstname",
                "lastname",
                "initials",
                "title",
                "position",
                "email",
                "phone-private",
                "fax",
                "company",
                "phone-work",
                "street",
                "country",
                "postal-code",
                "city",
                "state-or-province",
            ]
        },
    },
    path_attributes=frozenset({"href"}),
)
SVG_RULES = Rules(
    drop_elements={"metadata": "XMP or RDF metadata", "namedview": "editor settings"},
    drop_attributes={"docname": "file name", "export-filename": "paths on the author's computer"},
    path_attributes=frozenset({"href"}),
)
MACROS = "the document contains macros, which we cannot clean; save it without macros"
EMBEDDED = "the document contains embedded files or controls, which we cannot clean"

# (pattern, action, label): the first match decides. Actions: types, rels, core, app, drop,
# refuse, media, svg, font, xml; for ODF also mimetype, manifest, meta.
OOXML_PARTS: tuple[tuple[str, str, str], ...] = (
    (r"\[Content_Types\]\.xml", "types", ""),
    (r"(.+/)?_rels/[^/]*\.rels", "rels", ""),
    (r"docProps/core\.xml", "core", ""),
    (r"docProps/app\.xml", "app", ""),
    (r"docProps/custom\.xml", "drop", "custom properties"),
    (r"docProps/thumbnail\.\w+", "drop", "thumbnail"),
    (r"docMetadata/.+", "drop", "sensitivity label (names the organisation)"),
    (r"customXml/.+", "drop", "custom XML data (e.g. SharePoint properties)"),
    (r".+/printerSettings/.+", "drop", "printer settings"),
    (r"word/people\.xml", "drop", "people (comment authors' accounts)"),
    (r"word/comments(Ids|Extensible)\.xml", "drop", "comment ids and dates"),
    (r"ppt/revisionInfo\.xml", "drop", "revision information"),
    (r"(ppt/changesInfos|xl/revisions)/.+", "drop", "change history"),
    (r"ppt/tags/.+", "drop", "custom tags"),
    (
        r"(word|xl|ppt)/customizations\.xml|customUI/.+|userCustomization/.+",
        "drop",
        "interface customisations",
    ),
    (r".*vba(Project\.bin|Data\.xml)", "refuse", MACROS),
    (r".+/(embeddings|activeX)/.+", "refuse", EMBEDDED),
    (
        r"xl/connections\.xml|xl/queryTables/.+",
        "refuse",
        "the spreadsheet has data connections, which can name servers and accounts",
    ),
    (r".+\.svg", "svg", ""),
    (r"(word|xl|ppt)/media/.+", "media", ""),
    (r"(word|xl|ppt)/fonts/.+\.(odttf|fntdata|ttf)", "font", ""),
    (r"(word|xl|ppt)/.+\.(xml|vml)", "xml", ""),
)
ODF_PARTS: tuple[tuple[str, str, str], ...] = (
    (r"mimetype", "mimetype", ""),
    (r"META-INF/manifest\.xml", "manifest", ""),
    (r"META-INF/(document|macro)signatures\.xml", "drop", "digital signature (names the signer)"),
    (r"(Object \d+/)?meta\.xml", "meta", ""),
    (r"(Object \d+/)?settings\.xml", "drop", "view and printer settings (printer name)"),
    (r"Thumbnails/.+", "drop", "thumbnail"),
    (r"Configurations2/.*", "drop", "interface customisations"),
    (r"layout-cache|manifest\.rdf", "drop", "document cache and RDF metadata"),
    (r"(Basic|Scripts)/.+", "refuse", MACROS),
    (r".+\.svg", "svg", ""),
    (r"(Object \d+/)?Pictures/.+|Media/.+", "media", ""),
    (r"ObjectReplacements/.+", "media", ""),
    (r"(Object \d+/)?(content|styles)\.xml", "xml", ""),
)


@dataclass
class _Package:
    """The parts of a ZIP package, in order, and what we learn while cleaning them."""

    parts: dict[str, bytes]
    dropped: set[str]
    findings: Findings


def clean(data: bytes, report: Report, detected: Detected) -> Output:
    """A rebuilt copy of an OOXML or ODF document without identifying metadata."""
    family = detected.family
    parts = read_zip(data, report)
    package = _Package(parts, set(), Findings())
    if family.name in OOXML:
        rebuilt = _clean_ooxml(package, report)
        _verify(rebuilt, OOXML_PARTS, OOXML_RULES)
    elif family.name in ODF:
        rebuilt = _clean_odf(package, report, family.media_type)
        _verify(rebuilt, ODF_PARTS, ODF_RULES)
    else:
        raise CannotClean("archives cannot be cleaned; send the files in it one by one")
    _report_findings(package.findings, report)
    return Output(write_zip(rebuilt), family.media_type, family.extension)


# -- the ZIP container ------------------------------------------------------------------------


def read_zip(data: bytes, report: Report) -> dict[str, bytes]:
    """The files in a ZIP archive, read with limits against zip bombs."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise CannotClean("the document is damaged (its ZIP structure cannot be read)") from error
    with archive:
        infos = archive.infolist()
        _check_entries(infos)
        if archive.comment:
            report.saw_and_dropped("archive comment")
        parts: dict[str, bytes] = {}
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            try:
                with archive.open(info) as member:
                    content = member.read(info.file_size + 1)
            except (
                zipfile.BadZipFile,
                OSError,
                ValueError,
                EOFError,
                NotImplementedError,
                RuntimeError,
            ) as error:
                raise CannotClean("the document is damaged (a part cannot be read)") from error
            total += len(content)
            if len(content) != info.file_size or total > ZIP_MAX_TOTAL_BYTES:
                raise CannotClean("the document's parts are larger than they claim")
            parts[info.filename] = content
    report.dropped("file dates and owner ids inside the ZIP archive")
    return parts


def _check_entries(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > ZIP_MAX_ENTRIES:
        raise CannotClean(
            f"the document has too many parts ({len(infos)}; the limit is {ZIP_MAX_ENTRIES}), "
            "which is how zip bombs look"
        )
    if sum(i.file_size for i in infos) > ZIP_MAX_TOTAL_BYTES:
        raise CannotClean("the document would be too large once unpacked (a zip bomb?)")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise CannotClean("the document is damaged (two parts have the same name)")
    for info in infos:
        name = info.filename
        if name.startswith("/") or "\\" in name or ".." in name.split("/") or "\x00" in name:
            raise CannotClean("the document is damaged (a part has an impossible name)")
        if info.flag_bits & 0x1:
            raise CannotClean("the document is protected by a password")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CannotClean("the document uses a compression we do not read")
        if info.file_size > 1024 * 1024 and info.file_size > ZIP_MAX_RATIO * max(
            info.compress_size, 1
        ):
            raise CannotClean("a part of the document inflates too much (a zip bomb?)")


def write_zip(parts: dict[str, bytes]) -> bytes:
    """A fresh ZIP archive: fixed dates, no comments or extra fields; mimetype stored."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in parts.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 0  # MS-DOS: says nothing about the author's system
            info.external_attr = 0
            stored = name == "mimetype"  # ODF: first, and uncompressed
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


# -- OOXML -------------------------------------------------------------------------------------


def _action(name: str, table: tuple[tuple[str, str, str], ...]) -> tuple[str, str]:
    for pattern, action, label in table:
        if re.fullmatch(pattern, name):
            return action, label
    raise CannotClean(f"the document contains a part we cannot check ({name[:80]})")


def _clean_ooxml(package: _Package, report: Report) -> dict[str, bytes]:
    if "[Content_Types].xml" not in package.parts:
        raise CannotClean("the document is damaged (it has no list of content types)")
    out: dict[str, bytes] = {}
    later: list[str] = []
    for name, content in package.parts.items():
        action, label = _action(name, OOXML_PARTS)
        if action == "drop":
            report.saw_and_dropped(label)
            package.dropped.add(name)
        elif action in ("types", "rels"):
            later.append(name)
            out[name] = b""  # keeps the order; filled in below
        elif action == "core":
            _describe_core(content, report)
            out[name] = OOXML_CORE
        elif action == "app":
            _describe_app(content, report)
            out[name] = OOXML_APP
        else:
            out[name] = _clean_part(name, content, action, label, OOXML_RULES, package, report)
    for name in later:
        content = package.parts[name]
        if name == "[Content_Types].xml":
            out[name] = _content_types(content, set(out))
        else:
            out[name] = _relationships(name, content, package, report)
    return {"[Content_Types].xml": out.pop("[Content_Types].xml"), **out}


def _clean_part(
    name: str,
    content: bytes,
    action: str,
    label: str,
    rules: Rules,
    package: _Package,
    report: Report,
) -> bytes:
    if action == "refuse":
        raise CannotClean(label)
    if action == "media":
        return embedded.clean(content, name, report)
    if action == "font":
        return content
    if len(content) > XML_MAX_BYTES:
        raise CannotClean(f"a part of the document is too large to clean ({name[:80]})")
    return xmlrewrite.rewrite(content, SVG_RULES if action == "svg" else rules, package.findings)


def _resolve(source_dir: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(source_dir, target))


def _relationships(name: str, content: bytes, package: _Package, report: Report) -> bytes:
    # "word/_rels/document.xml.rels" holds the links of "word/document.xml": targets are
    # relative to "word/".
    source_dir = posixpath.dirname(posixpath.dirname(name))
    rows = []
    for element, attrs in xmlrewrite.elements(content):
        if element != "Relationship":
            continue
        target, mode = attrs.get("Target", ""), attrs.get("TargetMode", "")
        kind = attrs.get("Type", "")
        if kind.endswith("/attachedTemplate"):
            report.saw_and_dropped("template path")
            continue
        if mode == "External" and xmlrewrite.LOCAL_PATH.match(target):
            report.saw_and_dropped("paths on the author's computer")
            target = BLANK_LINK
        elif mode != "External" and _resolve(source_dir, target) in package.dropped:
            continue
        rows.append(
            f'<Relationship Id="{_attr(attrs.get("Id", ""))}" Type="{_attr(kind)}" '
            f'Target="{_attr(target)}"'
            + (' TargetMode="External"' if mode == "External" else "")
            + "/>"
        )
    body = "".join(rows)
    return (
        f'{xmlrewrite.DECLARATION}<Relationships xmlns="{RELS_NS}">{body}</Relationships>'.encode()
    )


def _content_types(content: bytes, kept: set[str]) -> bytes:
    rows = []
    for element, attrs in xmlrewrite.elements(content):
        media_type = _attr(attrs.get("ContentType", ""))
        if element == "Default":
            rows.append(
                f'<Default Extension="{_attr(attrs.get("Extension", ""))}" '
                f'ContentType="{media_type}"/>'
            )
        elif element == "Override" and attrs.get("PartName", "").lstrip("/") in kept:
            rows.append(
                f'<Override PartName="{_attr(attrs["PartName"])}" ContentType="{media_type}"/>'
            )
    body = "".join(rows)
    return f'{xmlrewrite.DECLARATION}<Types xmlns="{TYPES_NS}">{body}</Types>'.encode()


def _attr(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


CORE_LABELS = {
    "creator": "author",
    "lastModifiedBy": "last modified by",
    "initial-creator": "author",
    "printed-by": "printed by",
    "generator": "software",
}
APP_LABELS = {"Company": "company", "Manager": "manager", "Template": "template"}
PROPERTY_NAMES = frozenset(
    [
        "title",
        "subject",
        "description",
        "keywords",
        "keyword",
        "category",
        "contentStatus",
        "identifier",
        "language",
        "version",
    ]
)
DATE_NAMES = frozenset(
    ["created", "modified", "lastPrinted", "creation-date", "date", "print-date"]
)


def _describe_core(content: bytes, report: Report) -> None:
    """Report what a core.xml or meta.xml said (read-only; the part is replaced whole)."""
    try:
        values = xmlrewrite.element_texts(content)
    except CannotClean:
        report.saw_and_dropped("document properties (unreadable)")
        return
    for name, texts in values.items():
        if name in CORE_LABELS or name == "generator":
            report.saw_and_dropped(f"{CORE_LABELS[name]} ({texts[0]})")
        elif name in DATE_NAMES:
            report.saw_and_dropped("document dates")
        elif name in ("revision", "editing-cycles"):
            report.saw_and_dropped("revision number")
        elif name == "editing-duration":
            report.saw_and_dropped("editing time")
        elif name == "user-defined":
            report.saw_and_dropped("custom properties")
        elif name in PROPERTY_NAMES:
            report.saw_and_dropped("document properties (title, subject, keywords)")
    report.dropped("document properties")


def _describe_app(content: bytes, report: Report) -> None:
    try:
        values = xmlrewrite.element_texts(content)
    except CannotClean:
        report.saw_and_dropped("document properties (unreadable)")
        return
    application = " ".join(values.get("Application", []) + values.get("AppVersion", []))
    if application:
        report.saw_and_dropped(f"software ({application})")
    for name, label in APP_LABELS.items():
        if name in values:
            report.saw_and_dropped(f"{label} ({values[name][0]})")
    if "TotalTime" in values:
        report.saw_and_dropped("editing time")
    report.dropped("application properties")


# -- ODF ---------------------------------------------------------------------------------------


def _clean_odf(package: _Package, report: Report, media_type: str) -> dict[str, bytes]:
    names = list(package.parts)
    if not names or names[0] != "mimetype" or "META-INF/manifest.xml" not in package.parts:
        raise CannotClean("the document is damaged (it is missing its manifest)")
    out: dict[str, bytes] = {}
    for name, content in package.parts.items():
        action, label = _action(name, ODF_PARTS)
        if action == "drop":
            report.saw_and_dropped(label)
            package.dropped.add(name)
        elif action == "mimetype":
            out[name] = media_type.encode()
        elif action == "manifest":
            out[name] = b""  # rebuilt below, once we know what is kept
        elif action == "meta":
            _describe_core(content, report)
            out[name] = _odf_meta(content)
        else:
            out[name] = _clean_part(name, content, action, label, ODF_RULES, package, report)
    out["META-INF/manifest.xml"] = _manifest(package.parts["META-INF/manifest.xml"], set(out))
    return out


def _odf_meta(content: bytes) -> bytes:
    version = "1.2"
    for element, attrs in xmlrewrite.elements(content):
        if element == "document-meta":
            version = attrs.get("version", version)
            break
    if not re.fullmatch(r"\d\.\d", version):
        version = "1.2"
    return ODF_META.format(version=version).encode()


def _manifest(content: bytes, kept: set[str]) -> bytes:
    rows = []
    version = ""
    for element, attrs in xmlrewrite.elements(content):
        if element == "encryption-data":
            raise CannotClean("the document is protected by a password")
        if element == "manifest":
            version = attrs.get("version", "")
        if element != "file-entry":
            continue
        path = attrs.get("full-path", "")
        if (
            path == "/"
            or path in kept
            or (path.endswith("/") and any(k.startswith(path) for k in kept))
        ):
            extra = f' manifest:version="{_attr(attrs["version"])}"' if "version" in attrs else ""
            rows.append(
                f'<manifest:file-entry manifest:full-path="{_attr(path)}" '
                f'manifest:media-type="{_attr(attrs.get("media-type", ""))}"{extra}/>'
            )
    head = f' manifest:version="{_attr(version)}"' if version else ""
    return (
        f'{xmlrewrite.DECLARATION}<manifest:manifest xmlns:manifest="{MANIFEST_NS}"{head}>'
        + "".join(rows)
        + "</manifest:manifest>"
    ).encode()


# -- checks ------------------------------------------------------------------------------------


def _verify(parts: dict[str, bytes], table: tuple[tuple[str, str, str], ...], rules: Rules) -> None:
    """Re-check the rebuilt parts: nothing dropped is back, no XML has anything left."""
    for name, content in parts.items():
        action, _ = _action(name, table)
        if action in ("drop", "refuse"):
            raise CannotClean("the cleaned document still had a part we remove")
        neutral = {"core": OOXML_CORE, "app": OOXML_APP}.get(action)
        if neutral is not None and content != neutral:
            raise CannotClean("the cleaned document still had document properties")
        rules_here = SVG_RULES if action == "svg" else rules
        if action in ("xml", "svg") and xmlrewrite.leftovers(content, rules_here):
            raise CannotClean("the cleaned document still had identifying XML")


NAMED_LABELS = frozenset({AUTHORS, "author names", "author name fields"})


def _report_findings(findings: Findings, report: Report) -> None:
    """Add what the XML rewrites removed; names only where the label is about people."""
    for label in sorted(findings.labels):
        names = sorted(findings.names.get(label, ()))[:10]
        if names and label in NAMED_LABELS:
            report.saw_and_dropped(f"{label} ({', '.join(names)})")
        else:
            report.saw_and_dropped(label)
