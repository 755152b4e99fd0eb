"""Exceptions of the casework, each mapped to a message or an HTTP status at the edge."""

from filon.errors import FilonError


class LoginFailed(FilonError):
    """A sign-in was refused; every subclass shows the person the same generic message."""


class UnknownUser(LoginFailed):
    """No account has that username."""


class BadPassword(LoginFailed):
    """The password does not match the account's verifier."""


class AccountDisabled(LoginFailed):
    """The account exists but is switched off."""


class BadCode(LoginFailed):
    """The TOTP code is not valid now."""


class CodeReused(LoginFailed):
    """The TOTP code's time step was already used for this account."""


class TooManyAttempts(LoginFailed):
    """Sign-in is throttled for this username or for the whole server."""


class SessionMissing(FilonError):
    """The request carries no session cookie, or one that matches no session."""


class SessionExpired(FilonError):
    """The session was idle too long or reached its absolute lifetime."""


class SessionInvalid(FilonError):
    """The session row does not open with the cookie's key, or opens to another user's key."""


class IllegalTransition(FilonError):
    """A case cannot move from its status to the one asked for."""


class InvalidCaseField(FilonError):
    """A case field is out of range: too long, an unknown risk code, an assignee not a member."""


class PortsMissing(FilonError):
    """The app was built without the intake's ports: filing and previews are unavailable."""
