"""Rewrite an XML part event by event, leaving out or neutralising identifying names.

Office files break when their XML is re-serialised by a tool that renames namespace prefixes
or drops unused namespace declarations (Word reads ``mc:Ignorable="w14 wp14"`` by prefix).
So we parse with defusedxml's SAX parser with namespace processing off, which hands us the
names exactly as written, and write every event back out as it came, except for what the
rules remove. Rules match local names (the part after the prefix), because the same names
appear under transitional and strict OOXML namespaces alike.

defusedxml refuses DTDs, entity declarations and external references: no billion laughs,
no external entity reads. Comments are not reported by SAX, so they are left out too.
"""

from __future__ import annotations

import re
import xml.sax
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from xml.sax.handler import ContentHandler
from xml.sax.xmlreader import AttributesImpl

from defusedxml import DefusedXmlException
from defusedxml.sax import parseString

from intake.metadata.outcome import CannotClean

# Text that looks like a path on the author's computer or network: C:\, \\server, file:,
# /Users/name, /home/name.
LOCAL_PATH = re.compile(r"^(file:|[a-zA-Z]:[\\/]|\\\\|/(Users|home)/)", re.IGNORECASE)
_T = TypeVar("_T")
DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'


@dataclass(frozen=True)
class Rules:
    """What to remove or neutralise, by local name, and the report label for each.

    Keys of ``drop_elements``, ``neutral_text`` and ``neutral_attributes`` may be qualified
    as "parent/element" (or "element/attribute") to apply in one place only.
    """

    drop_elements: dict[str, str] = field(default_factory=dict)
    drop_attributes: dict[str, str] = field(default_factory=dict)
    drop_attribute_patterns: tuple[tuple[re.Pattern[str], str], ...] = ()
    # local attribute name → (neutral value, label); "element/attribute" for one element only
    neutral_attributes: dict[str, tuple[str, str]] = field(default_factory=dict)
    neutral_text: dict[str, tuple[str, str]] = field(default_factory=dict)
    # attributes whose value is replaced only when it is a local path
    path_attributes: frozenset[str] = frozenset()

    def merged(self, other: Rules) -> Rules:
        """These rules and ``other`` together."""
        return Rules(
            self.drop_elements | other.drop_elements,
            self.drop_attributes | other.drop_attributes,
            self.drop_attribute_patterns + other.drop_attribute_patterns,
            self.neutral_attributes | other.neutral_attributes,
            self.neutral_text | other.neutral_text,
            self.path_attributes | other.path_attributes,
        )


@dataclass
class Findings:
    """What a rewrite removed: report labels, and the names it replaced (for the report)."""

    labels: set[str] = field(default_factory=set)
    names: dict[str, set[str]] = field(default_factory=dict)

    def add(self, label: str, value: str | None = None) -> None:
        """Note one removal under ``label``, with the value removed when it is a name."""
        self.labels.add(label)
        if value is not None and value.strip():
            self.names.setdefault(label, set()).add(value.strip()[:80])


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(value: str) -> str:
    return (
        _escape_text(value)
        .replace('"', "&quot;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
    )


class _Rewriter(ContentHandler):
    def __init__(self, rules: Rules, findings: Findings) -> None:
        super().__init__()
        self.rules = rules
        self.findings = findings
        self.out: list[str] = [DECLARATION]
        self.skipping = 0  # depth inside an element we leave out
        self.open_tag = False  # the last start tag is still open (may become "/>")
        # label, neutral text and original text of the element being neutralised
        self.captured: tuple[str, str, list[str]] | None = None
        self.stack: list[str] = []  # local names of the elements we are inside

    def _rule(self, table: dict[str, _T], local: str) -> _T | None:
        parent = self.stack[-1] if self.stack else ""
        return table.get(f"{parent}/{local}", table.get(local))

    def _close_open_tag(self) -> None:
        if self.open_tag:
            self.out.append(">")
            self.open_tag = False

    def startElement(self, name: str, attrs: AttributesImpl) -> None:  # noqa: N802 - SAX API
        if self.skipping:
            self.skipping += 1
            return
        local = _local(name)
        dropped = self._rule(self.rules.drop_elements, local)
        if dropped is not None:
            self.findings.add(dropped)
            self.skipping = 1
            return
        self._close_open_tag()
        parts = ["<", name]
        for attr in attrs.getNames():
            value = self._attribute(local, attr, attrs.getValue(attr))
            if value is not None:
                parts.append(f' {attr}="{_escape_attribute(value)}"')
        neutral = self._rule(self.rules.neutral_text, local)
        if neutral is not None:
            # Written whole right away; what the element held is swallowed (and noted).
            self.out.append("".join(parts) + f">{_escape_text(neutral[0])}</{name}>")
            self.skipping = 1
            self.captured = (neutral[1], neutral[0], [])
            return
        self.out.append("".join(parts))
        self.open_tag = True
        self.stack.append(local)

    def _attribute(self, element: str, attr: str, value: str) -> str | None:
        """The value to write for one attribute, or None to leave it out."""
        if attr == "xmlns" or attr.startswith("xmlns:"):
            return value
        local = _local(attr)
        if local in self.rules.drop_attributes:
            self.findings.add(self.rules.drop_attributes[local])
            return None
        for pattern, label in self.rules.drop_attribute_patterns:
            if pattern.match(local):
                self.findings.add(label)
                return None
        neutral = self.rules.neutral_attributes.get(f"{element}/{local}")
        neutral = neutral or self.rules.neutral_attributes.get(local)
        if neutral is not None:
            if value != neutral[0]:
                self.findings.add(neutral[1], value)
            return neutral[0]
        if local in self.rules.path_attributes and LOCAL_PATH.match(value):
            self.findings.add("paths on the author's computer", value)
            return ""
        return value

    def endElement(self, name: str) -> None:  # noqa: N802 - SAX API
        if self.skipping:
            self.skipping -= 1
            if not self.skipping and self.captured is not None:
                label, neutral, text = self.captured
                if "".join(text) != neutral:
                    self.findings.add(label, "".join(text))
                self.captured = None
            return
        self.stack.pop()
        if self.open_tag:
            self.out.append("/>")
            self.open_tag = False
        else:
            self.out.append(f"</{name}>")

    def characters(self, content: str) -> None:
        if self.skipping:
            if self.captured is not None:
                self.captured[2].append(content)
            return
        self._close_open_tag()
        self.out.append(_escape_text(content))

    def ignorableWhitespace(self, whitespace: str) -> None:  # noqa: N802 - SAX API
        self.characters(whitespace)

    def processingInstruction(self, target: str, data: str) -> None:  # noqa: N802 - SAX API
        if self.skipping or "?>" in data:
            return
        self._close_open_tag()
        self.out.append(f"<?{target} {data}?>")


def rewrite(data: bytes, rules: Rules, findings: Findings) -> bytes:
    """``data`` (one XML document) written back without what ``rules`` remove."""
    handler = _Rewriter(rules, findings)
    _parse(data, handler)
    return "".join(handler.out).encode("utf-8")


def leftovers(data: bytes, rules: Rules) -> set[str]:
    """The labels of anything ``rules`` would still remove from ``data`` (empty when clean)."""
    findings = Findings()
    rewrite(data, rules, findings)
    return findings.labels


def _parse(data: bytes, handler: ContentHandler) -> None:
    try:
        parseString(data, handler, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise CannotClean("the document has XML with a DTD or entities, which we refuse") from (
            error
        )
    except (xml.sax.SAXException, ValueError) as error:
        raise CannotClean("the document has XML that is not well-formed") from error


class _Collector(ContentHandler):
    """Collect the text of elements by local name (for reading properties into the report)."""

    def __init__(self, keep: Callable[[str], bool]) -> None:
        super().__init__()
        self.keep = keep
        self.values: dict[str, list[str]] = {}
        self.stack: list[str] = []
        self.text: list[str] = []

    def startElement(self, name: str, attrs: AttributesImpl) -> None:  # noqa: N802 - SAX API
        self.stack.append(_local(name))
        self.text = []

    def characters(self, content: str) -> None:
        self.text.append(content)

    def endElement(self, name: str) -> None:  # noqa: N802 - SAX API
        local = self.stack.pop()
        value = "".join(self.text).strip()
        if value and self.keep(local):
            self.values.setdefault(local, []).append(value[:80])
        self.text = []


def element_texts(data: bytes) -> dict[str, list[str]]:
    """The text of every leaf element of a small XML document, by local name."""
    collector = _Collector(lambda _: True)
    _parse(data, collector)
    return collector.values


class _Elements(ContentHandler):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def startElement(self, name: str, attrs: AttributesImpl) -> None:  # noqa: N802 - SAX API
        self.found.append((_local(name), {_local(k): attrs.getValue(k) for k in attrs.getNames()}))


def elements(data: bytes) -> list[tuple[str, dict[str, str]]]:
    """(local name, attributes by local name) of every element, in document order."""
    handler = _Elements()
    _parse(data, handler)
    return handler.found
