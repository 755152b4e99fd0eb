"""Audio and video: ffmpeg copies the streams through pipes and leaves every tag behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from intake.metadata import mp4
from intake.metadata.dispatch import clean_bytes
from intake.metadata.outcome import CannotClean, Outcome
from tests.samples import exiftool, make
from tests.samples.exiftool import LATITUDE, LONGITUDE, PERSON

VIDEO_H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
# file name → (source, codecs, media type of the cleaned file, new extension or None)
RECORDINGS = {
    "VID_0001.mp4": ("video", [*VIDEO_H264, "-c:a", "aac"], "video/mp4", None),
    "IMG_0002.MOV": ("video", [*VIDEO_H264, "-c:a", "aac"], "video/quicktime", None),
    "clip.mkv": ("video", [*VIDEO_H264, "-c:a", "libvorbis"], "video/x-matroska", None),
    "clip.webm": ("video", ["-c:v", "libvpx", "-c:a", "libopus"], "video/webm", None),
    "old.avi": ("video", ["-c:v", "mpeg4", "-c:a", "libmp3lame"], "video/x-matroska", ".mkv"),
    "memo.m4a": ("audio", ["-c:a", "aac"], "audio/mp4", None),
    "memo.mp3": ("audio", ["-c:a", "libmp3lame"], "audio/mpeg", None),
    "memo.ogg": ("audio", ["-c:a", "libvorbis"], "audio/ogg", None),
    "memo.opus": ("audio", ["-c:a", "libopus"], "audio/ogg", None),
    "memo.flac": ("audio", ["-c:a", "flac"], "audio/flac", None),
    "memo.wav": ("audio", ["-c:a", "pcm_s16le"], "audio/wav", None),
}
# Containers that hold a location tag when ffmpeg writes one (AVI and WAV do not).
WITH_LOCATION = {
    "VID_0001.mp4",
    "IMG_0002.MOV",
    "clip.mkv",
    "clip.webm",
    "memo.m4a",
    "memo.mp3",
    "memo.ogg",
    "memo.opus",
    "memo.flac",
}


@pytest.fixture(scope="module", params=sorted(RECORDINGS))
def recording(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, bytes, Outcome]:
    """(file name, tagged original, outcome) for each container."""
    name = request.param
    source, codecs, _, _ = RECORDINGS[name]
    original = make.media(tmp_path_factory.mktemp("media"), name, source, codecs)
    return name, original, clean_bytes(original, filename=name, declared_type="")


def _packets(data: bytes) -> list[str]:
    """Stream types and packet counts, read by ffprobe from a pipe."""
    done = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_packets",
            "-show_entries",
            "stream=codec_type,nb_read_packets",
            "-of",
            "csv=p=0",
            "-i",
            "pipe:0",
        ],
        input=data,
        capture_output=True,
        check=True,
    )
    return sorted(done.stdout.decode().split())


def test_recordings_come_out_with_nothing_identifying(
    recording: tuple[str, bytes, Outcome],
) -> None:
    name, original, outcome = recording
    _, _, media_type, extension = RECORDINGS[name]
    assert outcome.status == "cleaned", outcome.reason
    assert outcome.media_type == media_type
    assert outcome.extension == extension
    assert outcome.kind == media_type.partition("/")[0]
    exiftool.assert_clean(outcome.data)
    assert PERSON.encode() not in outcome.data


def test_recordings_keep_every_packet(recording: tuple[str, bytes, Outcome]) -> None:
    _, original, outcome = recording
    assert _packets(outcome.data) == _packets(original)


def test_the_recording_report(recording: tuple[str, bytes, Outcome]) -> None:
    name, _, outcome = recording
    if name == "memo.wav":
        assert "text fields (artist, comment, software, date)" in outcome.found
        return
    assert f"author ({PERSON})" in outcome.found
    if name in WITH_LOCATION:
        assert "GPS position" in outcome.found
        assert outcome.location == pytest.approx((LATITUDE, LONGITUDE), abs=1e-4)
        assert outcome.taken_at is not None
        assert outcome.taken_at.startswith("2024-05-01")


def test_phone_videos_have_their_index_moved_to_the_front(tmp_path: Path) -> None:
    original = make.media(tmp_path, "phone.mp4", "video", [*VIDEO_H264, "-c:a", "aac"])
    kinds = [box.kind for box in mp4.boxes(original)]
    assert kinds.index(b"mdat") < kinds.index(b"moov")  # as a phone writes it
    moved = mp4.faststart(original)
    kinds = [box.kind for box in mp4.boxes(moved)]
    assert kinds.index(b"moov") < kinds.index(b"mdat")
    assert _packets(moved) == _packets(original)


def test_the_mp4_verifier_refuses_metadata_boxes() -> None:
    ftyp = b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00"
    udta = b"\x00\x00\x00\x14udta\x00\x00\x00\x0c\xa9xyz\x00\x00\x00\x00"
    moov = (len(udta) + 8).to_bytes(4, "big") + b"moov" + udta
    with pytest.raises(CannotClean, match="metadata"):
        mp4.verify(ftyp + moov)


@pytest.mark.parametrize(
    ("case", "data", "filename"),
    [
        (
            "truncated MP4",
            b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2\x00\x01\x00\x00mdat",
            "clip.mp4",
        ),
        ("MP3 frame header then garbage", b"\xff\xfb\x90\x00" + bytes(range(256)) * 4, "a.mp3"),
        ("Matroska header then garbage", b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 4, "a.mkv"),
    ],
)
def test_broken_recordings_are_not_cleaned(case: str, data: bytes, filename: str) -> None:
    outcome = clean_bytes(data, filename=filename, declared_type="")
    assert outcome.status == "not_cleaned", case
    assert outcome.reason


def test_without_ffmpeg_recordings_are_not_cleaned(
    recording: tuple[str, bytes, Outcome], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, original, _ = recording
    if name == "memo.wav":
        return  # WAV is cleaned in Python
    monkeypatch.setattr("intake.metadata.media.SAFE_PATH", "/nonexistent")
    outcome = clean_bytes(original, filename=name, declared_type="")
    assert outcome.status == "not_cleaned"
    assert outcome.reason
    assert "ffmpeg is not installed" in outcome.reason
