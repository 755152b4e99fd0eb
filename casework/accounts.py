"""Account and key administration: password change, desk membership, resets; all audited.

Where the events go:

- Membership changes and the re-sealing of a member's desk key are acts on a desk's key,
  so they go on that desk's audit chain (``audit:<slug>``, :mod:`casework.audit`), where the
  desk's members already read who viewed and downloaded what.
- A password change or a reset belongs to the account, not to any one desk (an account
  may have no desk at all), and says nothing about desk content. It goes on a chain of its
  own per account, subject ``account:<username>`` (a desk slug cannot hold a ``:``, so the
  two never meet), hashed and checked like every custody chain. A reset also writes a line
  on each of the account's desks, since it changes who holds that desk's key.

Each event is written in the transaction of the act it records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework import audit
from casework.sessions import end_user_sessions
from crypto.keys import BoxKeyPair, SigningKeyPair
from filon import accounts
from filon.custody import chain, event_record, record_event
from filon.desks import get_desk
from filon.errors import CustodyChainBroken, FilonError, NotFound
from filon.models import CustodyEvent, Desk, DeskMembership, Role, User

PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an audit action name, not a secret
ACCOUNT_RESET = "account_reset"
MEMBER_ADDED = "member_added"
MEMBER_REMOVED = "member_removed"
MEMBER_RESET = "member_reset"


class NotAdmin(FilonError):
    """Only an admin may manage desk members and reset accounts."""


class DeskKeyNotHeld(FilonError):
    """The admin is not a member of the desk, so cannot seal its key to anyone."""


class AlreadyMember(FilonError):
    """The user is already a member of the desk."""


class InactiveAccount(FilonError):
    """A disabled account is given no desk keys."""


class LastMember(FilonError):
    """Removing this member would leave the desk to the offline recovery key alone."""


class ResetRefused(FilonError):
    """An admin resets other accounts; their own password is changed on the Account page."""


def account_subject(username: str) -> str:
    """The audit chain's subject for an account."""
    return f"account:{username}"


def record_account_event(
    session: Session, *, username: str, actor: str, action: str, details: dict[str, Any]
) -> CustodyEvent:
    """Append one event to an account's chain, in the caller's transaction."""
    return record_event(
        session, subject=account_subject(username), actor=actor, action=action, details=details
    )


def account_trail(session: Session, username: str) -> tuple[list[dict[str, Any]], str | None]:
    """An account's events, newest first, and why the chain does not verify, if it does not."""
    subject = account_subject(username)
    try:
        return [event_record(e) for e in reversed(chain(session, subject))], None
    except CustodyChainBroken as exc:
        # Show the events anyway, with the break named: hiding it would hide the tampering.
        found = session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.subject == subject)
            .order_by(CustodyEvent.seq.desc())
        )
        return [event_record(e) for e in found], str(exc)


def require_admin(user: User) -> None:
    """Refuse anyone but an admin."""
    if user.role is not Role.ADMIN:
        raise NotAdmin("this page is for admins")


# -- password change -----------------------------------------------------------------------------


def change_password(
    session: Session, *, user_id: int, user_key: BoxKeyPair, password: str, keep_session: int
) -> int:
    """Re-wrap the user key under a new password, end the user's other sessions, audit it.

    The caller has confirmed the current password and a TOTP code. Returns how many other
    sessions were ended.
    """
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("the account is gone")
    accounts.change_password(session, user=user, user_key=user_key, password=password)
    ended = end_user_sessions(session, user_id=user.id, keep=keep_session)
    record_account_event(
        session,
        username=user.username,
        actor=f"user:{user.username}",
        action=PASSWORD_CHANGED,
        details={"other_sessions_ended": ended},
    )
    return ended


# -- desk membership -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MembersPage:
    """A desk's members as an admin manages them."""

    desk: Desk
    members: list[DeskMembership]
    candidates: list[str]  # usernames of active accounts that are not members
    holds_key: bool  # whether the admin is a member, and so can add others


def members_page(session: Session, *, admin: User, slug: str) -> MembersPage:
    """The desk's members, who could be added, and whether this admin can add them."""
    require_admin(admin)
    desk = get_desk(session, slug)
    members = sorted(desk.memberships, key=lambda m: m.user.username)
    member_ids = {m.user_id for m in members}
    candidates = [
        u.username
        for u in session.scalars(select(User).where(User.active).order_by(User.username))
        if u.id not in member_ids
    ]
    return MembersPage(desk, members, candidates, admin.id in member_ids)


def add_desk_member(
    session: Session,
    *,
    admin: User,
    admin_key: BoxKeyPair,
    slug: str,
    username: str,
    can_export: bool,
) -> DeskMembership:
    """Seal the desk key, opened through the admin's own membership, to another account."""
    require_admin(admin)
    desk = get_desk(session, slug)
    try:
        desk_key = accounts.open_desk_key(session, desk=desk, user=admin, user_key=admin_key)
    except NotFound as exc:
        raise DeskKeyNotHeld(
            f"you are not a member of {desk.slug}, so you do not hold its key: ask an admin "
            "who is, or use 'filon user add --recovery' with the recovery key"
        ) from exc
    member = accounts.get_user(session, username)
    if not member.active:
        raise InactiveAccount(f"{member.username} is disabled; no desk key is sealed to it")
    if any(m.user_id == member.id for m in desk.memberships):
        raise AlreadyMember(f"{member.username} is already a member of {desk.slug}")
    membership = accounts.add_member(
        session, desk=desk, desk_key=desk_key, user=member, can_export=can_export
    )
    audit.record_audit(
        session,
        desk=desk,
        user=admin,
        action=MEMBER_ADDED,
        details={"member": member.username, "can_export": can_export},
    )
    return membership


def remove_desk_member(session: Session, *, admin: User, slug: str, username: str) -> None:
    """Delete a member's sealed copy of the desk key; the desk keeps at least one member."""
    require_admin(admin)
    desk = get_desk(session, slug)
    member = accounts.get_user(session, username)
    if not any(m.user_id == member.id for m in desk.memberships):
        raise NotFound(f"{member.username} is not a member of {desk.slug}")
    if len(desk.memberships) == 1:
        raise LastMember(
            f"{member.username} is the last member of {desk.slug}; add another member first"
        )
    accounts.remove_member(session, desk=desk, user=member)
    audit.record_audit(
        session, desk=desk, user=admin, action=MEMBER_REMOVED, details={"member": member.username}
    )


# -- resets --------------------------------------------------------------------------------------


def reset_account(
    session: Session,
    *,
    username: str,
    actor: str,
    open_desk: Callable[[Desk], BoxKeyPair | None],
    signing_key: SigningKeyPair | None,
) -> accounts.Reset:
    """Reset an account (new key, password, TOTP), end its sessions and audit it everywhere.

    ``actor`` names who did it on the chains: ``user:<admin>`` or ``recovery-key``.
    """
    user = accounts.get_user(session, username)
    reset = accounts.reset_user(session, user=user, open_desk=open_desk, signing_key=signing_key)
    ended = end_user_sessions(session, user_id=user.id)
    record_account_event(
        session,
        username=user.username,
        actor=actor,
        action=ACCOUNT_RESET,
        details={"resealed": reset.resealed, "lost": reset.lost, "sessions_ended": ended},
    )
    for slug in [*reset.resealed, *reset.lost]:
        record_event(
            session,
            subject=audit.subject(get_desk(session, slug)),
            actor=actor,
            action=MEMBER_RESET,
            details={"member": user.username, "resealed": slug in reset.resealed},
        )
    return reset


def admin_reset(
    session: Session,
    *,
    admin: User,
    admin_key: BoxKeyPair,
    username: str,
    signing_key: SigningKeyPair,
) -> accounts.Reset:
    """An admin resets another account, re-sealing the desks the admin holds."""
    require_admin(admin)
    if username == admin.username:
        raise ResetRefused("change your own password on the Account page")

    def open_desk(desk: Desk) -> BoxKeyPair | None:
        try:
            return accounts.open_desk_key(session, desk=desk, user=admin, user_key=admin_key)
        except NotFound:
            return None

    return reset_account(
        session,
        username=username,
        actor=f"user:{admin.username}",
        open_desk=open_desk,
        signing_key=signing_key,
    )


def all_users(session: Session, *, admin: User) -> list[User]:
    """Every account, for the admin's list."""
    require_admin(admin)
    return list(session.scalars(select(User).order_by(User.username)))
