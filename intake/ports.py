"""The intake's side of the casework's ports (``filon.ports``): its pipeline and previewer.

Only the composition root calls :func:`casework_ports`; the casework never imports this.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from filon.instance import Instance
from filon.ports import CaseworkLimits, CaseworkPorts, Filed, FiledFile, SealedFile
from intake.envelope import MAX_FILES
from intake.metadata import sandbox
from intake.metadata.limits import CLEAN_MAX_BYTES, PREVIEW_MAX_SIDE
from intake.submission import incoming_file, submit


def file_submission(
    instance: Instance,
    *,
    desk_slug: str,
    lang: str,
    answers: dict[str, str],
    files: list[SealedFile],
    issue_codename: bool,
    on_record: Callable[[Session, str], None],
) -> Filed:
    """A new source's submission through the pipeline; ``ProtocolError`` is a ``RefusedInput``."""
    outcome = submit(
        instance,
        desk_slug=desk_slug,
        lang=lang,
        answers=answers,
        files=[incoming_file(item) for item in files],
        codename=None,  # always a new source: a codename is only ever issued here
        on_record=on_record,
    )
    return Filed(
        receipt=outcome.receipt,
        signed_receipt=outcome.signed_receipt,
        # A codename not asked for is dropped here, never stored anywhere.
        codename=outcome.codename if issue_codename else None,
        files=[FiledFile(f.name, f.status, f.reason) for f in outcome.files],
    )


def render_preview(data: bytes, *, max_side: int) -> tuple[str, bytes]:
    """A picture re-rendered small by the cleaning worker, in a new sandboxed process."""
    return sandbox.preview(data, max_side=max_side)


def casework_ports() -> CaseworkPorts:
    """What the casework may use of the intake, for ``casework.create_app(ports=...)``."""
    return CaseworkPorts(
        file_submission=file_submission,
        render_preview=render_preview,
        limits=CaseworkLimits(
            max_files=MAX_FILES,
            preview_max_bytes=CLEAN_MAX_BYTES,
            preview_max_side=PREVIEW_MAX_SIDE,
        ),
    )
