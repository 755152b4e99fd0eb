"""Metadata cleaning (DESIGN.md §5 step 2): nothing that identifies a source survives in a
file marked clean.

``clean`` runs one file through an isolated worker process (``sandbox``, ``worker``) that
detects the real format by its bytes (``sniff``) and rebuilds the file from the parts known
to be safe (one module per format family), then reads the result back to check it. All of it
happens in memory and over pipes: plaintext never touches disk. A file we could not clean,
for any reason, comes back ``not_cleaned`` with the original bytes and a reason.

Modules: ``jpeg``, ``png``, ``gif``, ``webp`` and ``riff`` (WebP, WAV), ``tiff``, ``heif``,
``pdf``, ``office`` (OOXML and ODF, with ``xmlrewrite``), ``media`` (ffmpeg, with ``mp4``),
``embedded`` (pictures inside documents), ``icc`` (colour profiles), ``exif`` (reading for
the report), ``policy`` (what we tell the source beforehand), ``limits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from intake.metadata.limits import CLEAN_MAX_BYTES
from intake.metadata.outcome import Outcome
from intake.metadata.policy import POLICIES, Policy, policy
from intake.metadata.sniff import detect

if TYPE_CHECKING:
    from filon.models import CleaningStatus

__all__ = ["CLEAN_MAX_BYTES", "POLICIES", "CleaningResult", "Policy", "clean", "policy"]


@dataclass(frozen=True)
class CleaningResult:
    """What cleaning did to one file."""

    status: CleaningStatus
    data: bytes  # the cleaned bytes; for anything but "cleaned": the original, unchanged
    media_type: str  # media type of ``data``
    extension: str | None  # the extension ``data`` should carry, when the name's does not fit
    kind: str  # "image" | "video" | "audio" | "document" | "text" | "other"
    found: list[str]  # identifying metadata found, in plain words
    removed: list[str]  # what the cleaned file no longer has
    location: tuple[float, float] | None  # GPS (lat, lon) read from the original
    taken_at: str | None  # capture time read from the original (ISO 8601)
    reason: str | None  # for not_cleaned: why, in plain words


def clean(data: bytes, *, filename: str, declared_type: str) -> CleaningResult:
    """Clean one file in an isolated worker process with limits; never raises for bad input."""
    # Imported here so the worker, which imports this package, stays clear of the database
    # layer and starts faster (it never builds a CleaningResult itself).
    from filon.models import CleaningStatus  # noqa: PLC0415
    from intake.metadata import sandbox  # noqa: PLC0415

    if len(data) > CLEAN_MAX_BYTES:
        outcome = _too_large(data)
    else:
        try:
            outcome = sandbox.run(data, filename=filename, declared_type=declared_type)
        except sandbox.WorkerFailed as error:
            outcome = _refused(str(error))
    status = CleaningStatus(outcome.status)
    return CleaningResult(
        status=status,
        data=outcome.data if status is CleaningStatus.CLEANED else data,
        media_type=outcome.media_type,
        extension=outcome.extension if status is CleaningStatus.CLEANED else None,
        kind=outcome.kind,
        found=outcome.found,
        removed=outcome.removed if status is CleaningStatus.CLEANED else [],
        location=outcome.location,
        taken_at=outcome.taken_at,
        reason=outcome.reason,
    )


def _too_large(data: bytes) -> Outcome:
    # Only the first bytes are looked at here, in the web process: magic numbers, no parsing.
    family = detect(data[:4096]).family
    reason = (
        f"the file is larger than {CLEAN_MAX_BYTES // (1024 * 1024)} MiB, too large to "
        "clean in memory"
    )
    return Outcome(
        "not_cleaned", b"", family.media_type, None, family.kind, [], [], None, None, reason
    )


def _refused(reason: str) -> Outcome:
    return Outcome(
        "not_cleaned", b"", "application/octet-stream", None, "other", [], [], None, None, reason
    )
