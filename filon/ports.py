"""What the casework borrows from the intake, as small typed ports (DESIGN.md §2).

The casework may not import the intake, yet two of its features must use the intake's code:
filing a submission on a source's behalf goes through the intake's pipeline (one place to
clean and seal, not two), and a picture's preview is drawn by the intake's sandboxed worker
(no parser of a source's file runs in the casework's process). The composition root
(``filon/cli.py``, ``filon/wsgi.py``) builds a :class:`CaseworkPorts` from the intake
(``intake.ports.casework_ports()``) and hands it to ``casework.create_app``; the casework
knows only the types below. Refusals cross as :class:`filon.errors.RefusedInput`, worker
failures as :class:`filon.sandbox.WorkerFailed`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from crypto.stream import StreamSummary
from filon.instance import Instance
from filon.models import CleaningStatus

# What a preview may be, and how each kind begins: the casework serves a preview's bytes
# inline without parsing them, so both sides check at least that they are what the
# Content-Type will say.
PREVIEW_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
PREVIEW_MAX_BYTES = 4 * 1024 * 1024


def is_preview(media_type: object, picture: bytes) -> bool:
    """Whether ``picture`` is a small JPEG or PNG that begins as ``media_type`` says."""
    return (
        isinstance(media_type, str)
        and media_type in PREVIEW_MAGIC
        and picture.startswith(PREVIEW_MAGIC[media_type])
        and len(picture) <= PREVIEW_MAX_BYTES
    )


@dataclass(frozen=True, repr=False)
class SealedFile:
    """A file this server sealed as it arrived: an incoming stream in the blob store."""

    blob_id: str  # the incoming stream (BlobStore.incoming_path)
    key: bytes  # its file key
    stream_size: int  # bytes of the whole stream: magic, header and chunks
    sealed_here: StreamSummary  # what the stream writer saw
    name: str
    type: str


@dataclass(frozen=True)
class FiledFile:
    """What became of one filed file."""

    name: str
    status: CleaningStatus
    reason: str | None


@dataclass(frozen=True)
class Filed:
    """A recorded submission: its receipt, the new source's codename if asked, the files."""

    receipt: str
    signed_receipt: bytes
    codename: str | None
    files: list[FiledFile]


class FileSubmission(Protocol):
    """Run a submission through the intake's pipeline for a new source.

    ``on_record(session, receipt)`` runs in the recording transaction. The codename of the new
    source is returned only with ``issue_codename``. Raises ``RefusedInput`` for what the
    pipeline refuses (unknown desk, a file that does not verify, storage unavailable); on any
    failure it has given the incoming streams back, for the caller to discard.
    """

    def __call__(
        self,
        instance: Instance,
        *,
        desk_slug: str,
        lang: str,
        answers: dict[str, str],
        files: list[SealedFile],
        issue_codename: bool,
        on_record: Callable[[Session, str], None],
    ) -> Filed: ...


class RenderPreview(Protocol):
    """Re-render a picture small in the sandbox: ``(media_type, bytes)``, a JPEG or PNG.

    Raises ``filon.sandbox.WorkerFailed`` with a plain reason when the picture is refused or
    the worker fails or answers anything but a preview.
    """

    def __call__(self, data: bytes, *, max_side: int) -> tuple[str, bytes]: ...


@dataclass(frozen=True)
class CaseworkLimits:
    """The intake's limits the casework must keep to."""

    max_files: int  # files in one submission
    preview_max_bytes: int  # the largest picture the worker will take in memory
    preview_max_side: int  # a preview's long side, in pixels


@dataclass(frozen=True)
class CaseworkPorts:
    """Everything the casework uses of the intake, injected by the composition root."""

    file_submission: FileSubmission
    render_preview: RenderPreview
    limits: CaseworkLimits


EXTENSION = "filon.casework_ports"  # the key in the casework app's ``extensions``
