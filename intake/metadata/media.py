"""Audio and video: copy the picture and sound streams with ffmpeg, through pipes only.

ffmpeg runs inside the worker, so it inherits the worker's limits (no file may be written,
memory, CPU time); it reads the file from its stdin and writes the copy to its stdout. It is
told which demuxer to use (from our own detection, never its guessing) and may open nothing
but the pipe (``-protocol_whitelist pipe``): a hostile playlist or reference movie cannot
make it read local files or the network.

The copy keeps only video and audio streams, unchanged (``-c copy``), and drops all global
and per-stream tags (GPS position, device make and model, software, dates, titles),
chapters, data tracks (which can carry a GPS track), subtitles and cover pictures. Containers
that must seek back to finish writing (AVI) are rewritten as Matroska; MP4 and MOV are
written as fragmented MP4, which needs no seeking. We check the result with ffprobe (same
packets, no tags) and, for MP4, box by box (``mp4``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

from intake.metadata import exif, mp4
from intake.metadata.outcome import CannotClean, Output, Report
from intake.metadata.sniff import Detected

FAMILIES = ("mp4", "m4a", "matroska", "avi", "mp3", "adts", "ogg", "flac", "amr")
FFMPEG_SECONDS = 45
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
FRAGMENTED = ["-movflags", "+frag_keyframe+empty_moov+default_base_moof"]


class Container:
    """How ffmpeg reads and writes one family."""

    def __init__(
        self, demuxer: str, muxer: str, options: list[str], media_type: str, extension: str
    ) -> None:
        self.demuxer, self.muxer, self.options = demuxer, muxer, options
        self.media_type, self.extension = media_type, extension


CONTAINERS = {
    "mp4": Container("mov", "mp4", FRAGMENTED, "video/mp4", ".mp4"),
    "mov": Container("mov", "mov", FRAGMENTED, "video/quicktime", ".mov"),
    "m4a": Container("mov", "mp4", FRAGMENTED, "audio/mp4", ".m4a"),
    "matroska": Container("matroska", "matroska", [], "video/x-matroska", ".mkv"),
    "webm": Container("matroska", "webm", [], "video/webm", ".webm"),
    "avi": Container("avi", "matroska", [], "video/x-matroska", ".mkv"),
    "mp3": Container(
        "mp3", "mp3", ["-id3v2_version", "0", "-write_xing", "0"], "audio/mpeg", ".mp3"
    ),
    "adts": Container("aac", "adts", [], "audio/aac", ".aac"),
    "ogg": Container("ogg", "ogg", [], "audio/ogg", ".ogg"),
    "flac": Container("flac", "flac", [], "audio/flac", ".flac"),
    "amr": Container("amr", "amr", [], "audio/amr", ".amr"),
}
# The demuxer that reads back what a muxer wrote.
OUTPUT_DEMUXERS = {"mp4": "mov", "mov": "mov", "adts": "aac", "webm": "matroska"}
# Tags ffmpeg itself writes into a bare copy, with the values it writes.
HARMLESS_FORMAT_TAGS = {"major_brand", "minor_version", "compatible_brands"}
HARMLESS_STREAM_TAGS = {"language", "DURATION"}
GENERIC_VALUES = {
    "encoder": {"Lavf"},
    "handler_name": {"VideoHandler", "SoundHandler"},
    "vendor_id": {"[0][0][0][0]", "FFMP"},
}
TAG_LABELS = {
    "location": "GPS position",
    "com.apple.quicktime.location.iso6709": "GPS position",
    "location-eng": "GPS position",
    "creation_time": "date and time recorded",
    "com.apple.quicktime.creationdate": "date and time recorded",
    "date": "date and time recorded",
    "encoder": "software",
    "com.apple.quicktime.software": "software",
    "software": "software",
    "artist": "author",
    "album_artist": "author",
    "author": "author",
    "composer": "author",
    "copyright": "copyright",
    "comment": "description or comment",
    "description": "description or comment",
    "title": "title",
}
ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)")


def clean(data: bytes, report: Report, detected: Detected) -> Output:
    """A copy of the audio and video streams without tags, chapters or data tracks."""
    container = _container(detected)
    program = _ffmpeg()
    if container.demuxer == "mov":
        mp4.describe(data, report)
        data = mp4.faststart(data)
    before = _probe(data, container.demuxer)
    _describe(before, report)
    cleaned = _run(program, _copy_arguments(container), data)
    after = _probe(cleaned, OUTPUT_DEMUXERS.get(container.muxer, container.muxer))
    _verify(before, after, cleaned, container)
    has_video = any(s.get("codec_type") == "video" for s in after.get("streams", []))
    media_type = container.media_type
    if not has_video and media_type.startswith("video/"):
        media_type = "audio/" + media_type.partition("/")[2].replace("quicktime", "mp4")
    report.dropped("all tags, chapters and data tracks")
    if container.demuxer == "avi":
        report.dropped("the AVI container (the streams were copied unchanged into Matroska)")
    return Output(cleaned, media_type, container.extension)


def _container(detected: Detected) -> Container:
    name = detected.family.name
    if name == "mp4" and detected.variant == "mov":
        return CONTAINERS["mov"]
    if name == "matroska" and detected.variant == "webm":
        return CONTAINERS["webm"]
    return CONTAINERS[name]


def _ffmpeg() -> str:
    found = shutil.which("ffmpeg", path=SAFE_PATH)
    if found is None:
        raise CannotClean(
            "ffmpeg is not installed on the server, so audio and video cannot be cleaned"
        )
    return found


def _copy_arguments(container: Container) -> list[str]:
    return [
        "-hide_banner",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        "pipe",
        "-f",
        container.demuxer,
        "-i",
        "pipe:0",
        "-map",
        "0:V?",
        "-map",
        "0:a?",
        "-c",
        "copy",
        "-dn",
        "-sn",
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        "-fflags",
        "+bitexact",
        "-flags:v",
        "+bitexact",
        "-flags:a",
        "+bitexact",
        *container.options,
        "-f",
        container.muxer,
        "pipe:1",
    ]


def _run(program: str, arguments: list[str], data: bytes) -> bytes:
    try:
        done = subprocess.run(  # noqa: S603 - fixed program and arguments, data on stdin
            [program, *arguments],
            input=data,
            capture_output=True,
            timeout=FFMPEG_SECONDS,
            env={"PATH": SAFE_PATH, "LC_ALL": "C.UTF-8"},
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise CannotClean("the audio or video took too long to process") from error
    if done.returncode != 0 or not done.stdout:
        raise CannotClean("the audio or video could not be read (damaged or unsupported)")
    return done.stdout


def _probe(data: bytes, demuxer: str) -> dict[str, Any]:
    program = shutil.which("ffprobe", path=SAFE_PATH)
    if program is None:
        raise CannotClean(
            "ffprobe is not installed on the server, so audio and video cannot be checked"
        )
    arguments = [
        "-v",
        "error",
        "-protocol_whitelist",
        "pipe",
        "-f",
        demuxer,
        "-count_packets",
        "-show_format",
        "-show_streams",
        "-show_chapters",
        "-of",
        "json",
        "-i",
        "pipe:0",
    ]
    try:
        found = json.loads(_run(program, arguments, data))
    except ValueError as error:
        raise CannotClean("the audio or video could not be read (damaged or unsupported)") from (
            error
        )
    if not isinstance(found, dict):
        raise CannotClean("the audio or video could not be read (damaged or unsupported)")
    return found


def _describe(probe: dict[str, Any], report: Report) -> None:
    tags = {str(k).lower(): str(v) for k, v in (probe.get("format", {}).get("tags") or {}).items()}
    for stream in probe.get("streams", []):
        for key, value in (stream.get("tags") or {}).items():
            tags.setdefault(str(key).lower(), str(value))
        if stream.get("codec_type") not in ("video", "audio"):
            report.saw_and_dropped("data tracks or subtitles (can hold a GPS track)")
        elif (stream.get("disposition") or {}).get("attached_pic"):
            report.saw_and_dropped("cover picture")
    _device(tags, report)
    for key, value in tags.items():
        label = TAG_LABELS.get(key)
        if label == "GPS position":
            _location(value, report)
        elif label == "date and time recorded":
            report.taken_at = report.taken_at or exif.parse_time(value)
            report.saw_and_dropped(label)
        elif label in ("software", "author", "copyright"):
            if value not in GENERIC_VALUES.get(key, set()):
                report.saw_and_dropped(f"{label} ({value[:80]})")
        elif label is not None:
            report.saw_and_dropped(label)
        elif key not in HARMLESS_FORMAT_TAGS | {t.lower() for t in HARMLESS_STREAM_TAGS} and (
            value not in GENERIC_VALUES.get(key, set())
        ):
            report.saw_and_dropped("other tags")
    if probe.get("chapters"):
        report.saw_and_dropped("chapters")


def _device(tags: dict[str, str], report: Report) -> None:
    make = tags.get("com.apple.quicktime.make") or tags.get("make") or ""
    model = tags.get("com.apple.quicktime.model") or tags.get("model") or ""
    for key in ("com.apple.quicktime.make", "make", "com.apple.quicktime.model", "model"):
        tags.pop(key, None)
    if make or model:
        report.saw_and_dropped(f"camera make and model ({f'{make} {model}'.strip()[:80]})")


def _location(value: str, report: Report) -> None:
    match = ISO6709.match(value.strip())
    if match:
        lat, lon = float(match.group(1)), float(match.group(2))
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            report.location = report.location or (round(lat, 7), round(lon, 7))
    report.saw_and_dropped("GPS position")


def _verify(
    before: dict[str, Any], after: dict[str, Any], data: bytes, container: Container
) -> None:
    """Same audio and video packets as the original; no tags, chapters or other streams."""
    wanted = [
        s
        for s in before.get("streams", [])
        if s.get("codec_type") in ("video", "audio")
        and not (s.get("disposition") or {}).get("attached_pic")
    ]
    got = after.get("streams", [])
    if not wanted:
        raise CannotClean("the file has no audio or video we can copy")
    if [(s.get("codec_type"), s.get("nb_read_packets")) for s in wanted] != [
        (s.get("codec_type"), s.get("nb_read_packets")) for s in got
    ]:
        raise CannotClean("the cleaned audio or video did not keep every packet")
    if after.get("chapters"):
        raise CannotClean("the cleaned audio or video still had chapters")
    _verify_tags((after.get("format") or {}).get("tags") or {}, HARMLESS_FORMAT_TAGS)
    for stream in got:
        _verify_tags(stream.get("tags") or {}, HARMLESS_STREAM_TAGS)
    if container.muxer in ("mp4", "mov"):
        mp4.verify(data)
    if container.muxer == "mp3" and (data.startswith(b"ID3") or data[-128:-125] == b"TAG"):
        raise CannotClean("the cleaned audio still had ID3 tags")


def _verify_tags(tags: dict[str, Any], harmless: set[str]) -> None:
    for key, value in tags.items():
        if key in harmless or str(value) in GENERIC_VALUES.get(key, set()):
            continue
        raise CannotClean("the cleaned audio or video still had tags")
