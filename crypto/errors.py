"""Exceptions of :mod:`crypto`: one class per failure, each mapped to a message at the edge."""


class CryptoFailure(Exception):
    """Base class of every failure in :mod:`crypto`."""


# -- keys ---------------------------------------------------------------------------------------


class KeyFormatError(CryptoFailure):
    """A key has the wrong length or encoding."""


# -- password key wrapping ------------------------------------------------------------------------


class WrappedKeyError(CryptoFailure):
    """A wrapped key is malformed (bad magic, bad length or unsupported parameters)."""


class WrongPassword(CryptoFailure):
    """A wrapped key did not open: the password is wrong or the blob was altered."""


# -- sealed envelopes -----------------------------------------------------------------------------


class SealedBoxError(CryptoFailure):
    """Base class of sealed-envelope failures."""


class EnvelopeTooShort(SealedBoxError):
    """The envelope is shorter than a sealed box's overhead (48 bytes)."""


class EnvelopeTooLarge(SealedBoxError):
    """The envelope is larger than the caller allows."""


class EnvelopeNotForThisKey(SealedBoxError):
    """The envelope did not open: it was sealed to another key or altered."""


# -- signatures -----------------------------------------------------------------------------------


class SignatureInvalid(CryptoFailure):
    """A detached signature does not verify for this message and key."""


# -- filon-stream/1 -------------------------------------------------------------------------------


class StreamError(CryptoFailure):
    """Base class of ``filon-stream/1`` failures; a stream that raises one is rejected whole."""


class BadMagic(StreamError):
    """The stream does not start with ``FLN1``."""


class BadHeader(StreamError):
    """The 24-byte secretstream header is missing or incomplete."""


class StreamTruncated(StreamError):
    """The stream ends before its last byte: inside a chunk, or before its announced size."""


class MissingFinalTag(StreamError):
    """The stream ends at a chunk boundary without a chunk tagged ``TAG_FINAL``."""


class ChunkSizeError(StreamError):
    """A chunk breaks the size rule: a short chunk not tagged final, or a full one tagged final."""


class UnexpectedTag(StreamError):
    """A chunk carries a tag other than ``TAG_MESSAGE`` or ``TAG_FINAL``."""


class TrailingData(StreamError):
    """Bytes follow the final chunk (named as such when the reader knows the stream's size)."""


class ChunkAuthenticationFailed(StreamError):
    """A chunk failed authentication: it was altered, or a chunk before it is missing."""


class ChunksReordered(StreamError):
    """Base class of reordering: the chunks are authentic but not in their place."""


class ChunkOutOfOrder(ChunksReordered):
    """A chunk stands before the one it should follow (chunks swapped or moved)."""


class ChunkDuplicated(ChunksReordered):
    """A chunk that was already read appears again (a replayed or duplicated chunk)."""


# -- codenames ------------------------------------------------------------------------------------


class InvalidCodename(CryptoFailure):
    """A codename is not made of words from one of the codename wordlists."""
