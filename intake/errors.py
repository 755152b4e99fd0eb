"""Failures of the intake protocol, each with the status and code a client receives.

Every input a client can send maps to one of these (a 4xx), never to a 500.
"""

from __future__ import annotations

from filon.errors import RefusedInput


class ProtocolError(RefusedInput):
    """Base class: a request the intake refuses, with a code and a message for the client."""


class MalformedRequest(ProtocolError):
    """The body is not the JSON (or the bytes) the endpoint expects."""

    code = "malformed_request"


class UnknownKey(ProtocolError):
    """The request names an intake key this server does not hold."""

    code = "unknown_key"


class UploadNotFound(ProtocolError):
    """No upload has that id."""

    status = 404
    code = "upload_not_found"


class UploadUsed(ProtocolError):
    """The upload already belongs to a submission."""

    status = 409
    code = "upload_used"


class UploadIncomplete(ProtocolError):
    """A submission names an upload whose chunks have not all arrived."""

    status = 409
    code = "upload_incomplete"


class ChunkRejected(ProtocolError):
    """A chunk has an index out of range or the wrong size."""

    code = "chunk_rejected"


class TooLarge(ProtocolError):
    """A file, chunk, envelope or form is larger than this server accepts."""

    status = 413
    code = "too_large"


class ProofOfWorkFailed(ProtocolError):
    """The proof of work is wrong, or its challenge unknown, expired or already used."""

    status = 403
    code = "proof_of_work_failed"


class EnvelopeInvalid(ProtocolError):
    """The envelope does not open with the intake key, or its contents break the protocol."""

    code = "envelope_invalid"


class UnknownDesk(ProtocolError):
    """The envelope names a desk that does not exist."""

    code = "unknown_desk"


class CodenameUnknown(ProtocolError):
    """No source has this codename."""

    status = 404
    code = "codename_unknown"


class FileRejected(ProtocolError):
    """A file's stream does not verify, or its size or SHA-256 differs from the envelope's claim."""

    status = 422
    code = "file_rejected"


class TryLater(ProtocolError):
    """Storage or the database is unavailable; nothing acknowledged was lost."""

    status = 503
    code = "try_again_later"
