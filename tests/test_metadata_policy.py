"""Format detection by magic bytes, and what the source is told before sending."""

from __future__ import annotations

import pytest

from intake.metadata import POLICIES, policy
from intake.metadata.dispatch import CLEANERS, REFUSALS, clean_bytes
from intake.metadata.families import FAMILIES
from intake.metadata.sniff import detect
from tests.samples import make


@pytest.mark.parametrize(
    ("data", "family", "variant"),
    [
        (make.encoded(make.picture(), "JPEG"), "jpeg", ""),
        (make.encoded(make.picture(), "PNG"), "png", ""),
        (make.encoded(make.picture(), "GIF"), "gif", ""),
        (make.encoded(make.picture(), "WEBP"), "webp", ""),
        (make.encoded(make.picture(), "TIFF"), "tiff", ""),
        (make.encoded(make.picture(), "HEIF"), "heif", ""),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00avifmif1", "heif", ""),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "mp4", "mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "mp4", "mov"),
        (b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00M4A isom", "m4a", ""),
        (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom", "raw", ""),
        (b"%PDF-1.7\n", "pdf", ""),
        (make.docx(), "docx", ""),
        (make.xlsx(), "xlsx", ""),
        (make.pptx(), "pptx", ""),
        (make.odt(), "odt", ""),
        (b"PK\x05\x06" + bytes(18), "zip", ""),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "legacy-office", ""),
        (b"{\\rtf1\\ansi hello}", "rtf", ""),
        (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00\x00\x00\x00\x1f\x42\x82\x84webm", "matroska", "webm"),
        (b"OggS\x00\x02", "ogg", ""),
        (b"fLaC\x00\x00\x00\x22", "flac", ""),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00", "mp3", ""),
        (b"\xff\xf1\x50\x80", "adts", ""),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav", ""),
        (b"RIFF\x24\x00\x00\x00AVI LIST", "avi", ""),
        (b"#!AMR\n", "amr", ""),
        (b"Rapport de mission, Rubaya\n", "text", ""),
        (b"\xef\xbb\xbfnotes\r\n", "text", ""),
        (b"<html><body>hi</body></html>", "markup", ""),
        (b"<?xml version='1.0'?><svg/>", "markup", ""),
        (bytes(range(256)), "unknown", ""),
        (b"", "text", ""),
    ],
)
def test_formats_are_told_by_their_bytes(data: bytes, family: str, variant: str) -> None:
    detected = detect(data)
    assert (detected.family.name, detected.variant) == (family, variant)


def test_every_family_has_a_policy_and_a_cleaner_or_a_reason() -> None:
    for name in FAMILIES:
        assert name in POLICIES, name
        assert name in CLEANERS or name in REFUSALS or name == "text", name
        assert POLICIES[name].cleaned == (name in CLEANERS or name == "text"), name


@pytest.mark.parametrize(
    ("filename", "declared_type", "family", "cleaned"),
    [
        ("IMG_0001.JPG", "image/jpeg", "jpeg", True),
        ("IMG_0002.HEIC", "", "heif", True),
        ("scan", "application/pdf", "pdf", True),
        ("report.docx", "application/octet-stream", "docx", True),
        ("VID_0003.mp4", "video/mp4", "mp4", True),
        ("voice.opus", "", "ogg", True),
        ("notes.txt", "text/plain", "text", True),
        ("old.doc", "application/msword", "legacy-office", False),
        ("photos.zip", "application/zip", "zip", False),
        ("raw.DNG", "", "raw", False),
        ("mystery.xyz", "application/x-whatever", "unknown", False),
    ],
)
def test_the_policy_for_a_file_about_to_be_sent(
    filename: str, declared_type: str, family: str, cleaned: bool
) -> None:
    found = policy(filename, declared_type)
    assert (found.family, found.cleaned) == (family, cleaned)
    assert found.label
    if cleaned and family != "text":
        assert found.removed
        assert found.kept
    if not cleaned:
        assert found.warning


def test_the_policy_tells_the_source_about_location_consent() -> None:
    assert "tick the box" in (policy("a.jpg", "").warning or "")


def test_a_mismatched_name_is_noted() -> None:
    outcome = clean_bytes(
        make.encoded(make.picture(), "PNG"), filename="photo.jpg", declared_type="image/jpeg"
    )
    assert outcome.found == ["the file's name or type says JPEG picture, but it is a PNG picture"]


def test_text_is_nothing_to_clean_and_markup_is_not_cleaned() -> None:
    text = clean_bytes(b"Coltan, 3 t\n", filename="notes.txt", declared_type="text/plain")
    assert (text.status, text.kind, text.media_type) == ("nothing_to_clean", "text", "text/plain")
    svg = clean_bytes(
        b"<svg><metadata>Jane</metadata></svg>", filename="map.svg", declared_type="image/svg+xml"
    )
    assert svg.status == "not_cleaned"
    assert svg.reason
    assert "SVG" in svg.reason
