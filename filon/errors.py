"""Exceptions of the project package, each mapped to a clear message at the edge (CLI, HTTP)."""

import errno

# Failures of the disk under the instance (full, over quota, failing, read-only): a request
# that meets one is answered "try again later", and what was acknowledged before is kept.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})


def is_storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the disk failing rather than a bug."""
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


class FilonError(Exception):
    """Base class: a failure we can explain to the person running Filon."""


class InstanceMissing(FilonError):
    """The instance directory does not exist or has not been initialised."""


class InstanceCorrupt(FilonError):
    """The instance directory exists but a file in it is unreadable or malformed."""


class InstanceExists(FilonError):
    """``filon init`` was asked to overwrite an existing instance."""


class KeyFilePermissions(FilonError):
    """A key file or the key folder can be read by the group or by others."""


class SettingsInvalid(FilonError):
    """A setting from the instance file or the environment is out of range or malformed."""


class MigrationFailed(FilonError):
    """A migration would leave the database inconsistent; it was rolled back."""


class DatabaseNewerThanCode(FilonError):
    """The database was migrated by a newer Filon than this one."""


class DatabaseUnreachable(FilonError):
    """The database server cannot be reached, or refuses the connection."""


class DatabaseBehindCode(FilonError):
    """The database needs ``filon upgrade`` before this Filon can use it."""


class BlobNotFound(FilonError):
    """No blob is stored under that id."""


class InvalidBlobId(FilonError):
    """A blob id is not one the store could have made (path traversal is refused here)."""


class NotCiphertext(FilonError):
    """Something other than a ``filon-stream/1`` stream was offered to the blob store."""


class CustodyChainBroken(FilonError):
    """A custody chain's hashes do not link up: an event was altered, removed or inserted."""


class NotFound(FilonError):
    """A desk, user or other named record does not exist."""


class AlreadyExists(FilonError):
    """A desk, user or other named record already exists."""


class InvalidName(FilonError):
    """A slug or username breaks its pattern."""


class RefusedInput(Exception):
    """Input a client sent that is refused, with an HTTP status, a code and a plain message.

    The intake's protocol errors are of this kind, and so is what the casework hears back when
    it files through the intake's pipeline (``filon.ports``): the casework catches this, not
    an intake class. Not a :class:`FilonError`: it is the client's mistake, not the operator's.
    """

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
