"""What a format cleaner produces, and the one exception it raises when it must give up.

These types live on the worker side of the sandbox: they hold plain strings so that the
worker never imports the database layer, and the parent turns them into ``CleaningResult``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["cleaned", "nothing_to_clean", "not_cleaned"]
Kind = Literal["image", "video", "audio", "document", "text", "other"]
KINDS: tuple[Kind, ...] = ("image", "video", "audio", "document", "text", "other")
STATUSES: tuple[Status, ...] = ("cleaned", "nothing_to_clean", "not_cleaned")


class CannotClean(Exception):
    """A file we will not pass off as clean; the message says why, in plain words."""


@dataclass
class Report:
    """What a cleaner saw and did, in the plain words shown to investigators."""

    found: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    location: tuple[float, float] | None = None
    taken_at: str | None = None

    def saw(self, item: str) -> None:
        """Note identifying metadata that was present in the original."""
        if item not in self.found:
            self.found.append(item)

    def dropped(self, item: str) -> None:
        """Note something left out of the cleaned file."""
        if item not in self.removed:
            self.removed.append(item)

    def saw_and_dropped(self, item: str) -> None:
        """Note metadata that was present and is not in the cleaned file."""
        self.saw(item)
        self.dropped(item)


@dataclass(frozen=True)
class Output:
    """The cleaned bytes of one file and what they now are."""

    data: bytes
    media_type: str
    extension: str  # the extension that matches ``data``, with its dot


@dataclass(frozen=True)
class Outcome:
    """The worker's answer for one file (``data`` is empty unless status is ``cleaned``)."""

    status: Status
    data: bytes
    media_type: str
    extension: str | None
    kind: Kind
    found: list[str]
    removed: list[str]
    location: tuple[float, float] | None
    taken_at: str | None
    reason: str | None
