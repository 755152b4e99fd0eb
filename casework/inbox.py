"""The desk inbox: the submissions of a desk the user belongs to, newest first.

It shows only what the record keeps in plaintext (received hour, status, file counts and
cleaning status, and the investigator-written fields of the cases a submission belongs to), so
listing opens nothing and needs no key; membership is still required. Search reads case
titles, summaries and tags only: source content is sealed and never searched.

Pages are found by seek on (received_hour, id), never by OFFSET, so the thousandth page costs
what the first does. Filters on a case's fields match a submission when one case it belongs
to matches all of them.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import ColumnElement, Select, delete, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session

from casework.models import (
    MAX_LABEL_CHARS,
    MAX_SEARCH_NAME_CHARS,
    Case,
    CaseLabel,
    CasePriority,
    CaseSubmission,
    LabelKind,
    SavedSearch,
)
from casework.risks import RISK_CATEGORIES
from filon.db import current_hour
from filon.errors import FilonError, NotFound
from filon.models import (
    CleaningStatus,
    Desk,
    DeskMembership,
    Evidence,
    Submission,
    SubmissionStatus,
    User,
)

PAGE_SIZE = 50
# Counting every match of a broad filter would read the whole desk; past this we say "1000+".
COUNT_CAP = 1000
MAX_SEARCH_CHARS = 200
MAX_SAVED_SEARCHES = 50
LABEL_SUGGESTION_CASES = 500
FILTER_NAMES: tuple[str, ...] = ("q", "status", "priority", "assignee", "tag", "mineral")
FILTER_NAMES += ("risk", "from", "to", "cleaning")

_E = TypeVar("_E", bound=enum.StrEnum)
_Select = TypeVar("_Select", bound=Select[*tuple[Any, ...]])
_CURSOR = re.compile(r"(\d{10})-(\d{1,10})")
MAX_ID = 2**31 - 1  # ids are INTEGER columns: a larger number would be a database error


class InvalidFilter(FilonError):
    """An inbox filter, search, cursor or saved search the inbox does not accept."""


class Cleaning(enum.StrEnum):
    """The cleaning filter: some file flagged ``not_cleaned``, or none."""

    NOT_CLEANED = "not_cleaned"
    CLEANED = "cleaned"  # no file flagged (a submission without files counts here too)


@dataclass(frozen=True)
class InboxFilters:
    """What the inbox is narrowed to; every field is optional and they combine with AND."""

    q: str | None = None
    status: SubmissionStatus | None = None
    priority: CasePriority | None = None
    assignee: str | None = None
    tag: str | None = None
    mineral: str | None = None
    risk: str | None = None
    received_from: dt.date | None = None
    received_to: dt.date | None = None
    cleaning: Cleaning | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> InboxFilters:
        """Filters from a query string's values; a bad value raises :class:`InvalidFilter`."""
        values = {name: (args.get(name) or "").strip() for name in FILTER_NAMES}
        q = values["q"]
        if len(q) > MAX_SEARCH_CHARS:
            raise InvalidFilter(f"a search has at most {MAX_SEARCH_CHARS} characters")
        risk = values["risk"] or None
        if risk is not None and risk not in RISK_CATEGORIES:
            raise InvalidFilter(f"unknown risk category {risk!r}")
        filters = cls(
            q=q or None,
            status=_choice(SubmissionStatus, "status", values["status"]),
            priority=_choice(CasePriority, "priority", values["priority"]),
            assignee=_label("assignee", values["assignee"]),
            tag=_label("tag", values["tag"]),
            mineral=_label("mineral", values["mineral"]),
            risk=risk,
            received_from=_day("from", values["from"]),
            received_to=_day("to", values["to"]),
            cleaning=_choice(Cleaning, "cleaning", values["cleaning"]),
        )
        if (
            filters.received_from is not None
            and filters.received_to is not None
            and filters.received_from > filters.received_to
        ):
            raise InvalidFilter("the 'from' day is after the 'to' day")
        return filters

    def args(self) -> dict[str, str]:
        """The filters as query-string values, only those set (for links and saved searches)."""
        named: dict[str, Any] = asdict(self)
        named["from"] = named.pop("received_from")
        named["to"] = named.pop("received_to")
        return {
            name: value.isoformat() if isinstance(value, dt.date) else str(value)
            for name in FILTER_NAMES
            if (value := named[name]) is not None
        }

    def query_string(self) -> str:
        """The filters as a canonical query string (empty when none is set)."""
        return urlencode(self.args())


def _choice(kind: type[_E], name: str, value: str) -> _E | None:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise InvalidFilter(f"unknown {name} {value!r}") from None


def _label(name: str, value: str) -> str | None:
    if len(value) > MAX_LABEL_CHARS:
        raise InvalidFilter(f"a {name} has at most {MAX_LABEL_CHARS} characters")
    return value or None


def _day(name: str, value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidFilter(f"'{name}' is not a day (YYYY-MM-DD): {value!r}") from None


@dataclass(frozen=True)
class Cursor:
    """A place in the inbox's order: the (received_hour, id) of a row on a page's edge."""

    received_hour: dt.datetime
    id: int

    @classmethod
    def parse(cls, token: str) -> Cursor:
        """A cursor from a link's ``before``/``after`` value, or :class:`InvalidFilter`."""
        match = _CURSOR.fullmatch(token)
        if match is None:
            raise InvalidFilter("not an inbox cursor")
        try:
            hour = dt.datetime.strptime(match.group(1), "%Y%m%d%H")
        except ValueError:
            raise InvalidFilter("not an inbox cursor") from None
        if int(match.group(2)) > MAX_ID:
            raise InvalidFilter("not an inbox cursor")
        return cls(hour, int(match.group(2)))

    def token(self) -> str:
        """The cursor as it travels in a link."""
        return f"{self.received_hour:%Y%m%d%H}-{self.id}"


@dataclass(frozen=True)
class CaseRef:
    """A case a listed submission belongs to."""

    id: int
    title: str


@dataclass(frozen=True)
class InboxRow:
    """One submission as the inbox lists it."""

    reference: str
    received_hour: dt.datetime
    status: str
    file_count: int
    cleaning: dict[str, int] = field(default_factory=dict)
    cases: list[CaseRef] = field(default_factory=list)


@dataclass(frozen=True)
class InboxPage:
    """One page of a desk's inbox, with cursors to the pages around it."""

    desk: Desk
    rows: list[InboxRow]
    filters: InboxFilters
    older: str | None  # the cursor of the next page back in time, if there is one
    newer: str | None
    matching: int  # how many submissions match, counted up to COUNT_CAP + 1

    @property
    def matching_capped(self) -> bool:
        """Whether there are more matches than were counted."""
        return self.matching > COUNT_CAP

    @property
    def cap(self) -> int:
        """How far matches are counted."""
        return COUNT_CAP


def member_desks(session: Session, user: User) -> list[Desk]:
    """The desks a user is a member of, by slug."""
    return list(
        session.scalars(
            select(Desk)
            .join(DeskMembership, DeskMembership.desk_id == Desk.id)
            .where(DeskMembership.user_id == user.id)
            .order_by(Desk.slug)
        )
    )


def member_desk(session: Session, *, user: User, slug: str) -> Desk:
    """A desk by slug, only if the user is a member (:class:`NotFound` otherwise, alike)."""
    desk = session.scalars(
        select(Desk)
        .join(DeskMembership, DeskMembership.desk_id == Desk.id)
        .where(DeskMembership.user_id == user.id, Desk.slug == slug)
    ).first()
    if desk is None:
        raise NotFound(f"no desk {slug!r} for {user.username}")
    return desk


def desk_members(session: Session, desk: Desk) -> list[User]:
    """The desk's members, by username."""
    return list(
        session.scalars(
            select(User)
            .join(DeskMembership, DeskMembership.user_id == User.id)
            .where(DeskMembership.desk_id == desk.id)
            .order_by(User.username)
        )
    )


def inbox_page(
    session: Session,
    *,
    user: User,
    slug: str,
    filters: InboxFilters | None = None,
    before: Cursor | None = None,
    after: Cursor | None = None,
) -> InboxPage:
    """A page of the desk's matching submissions, newest first: the first, or one by cursor.

    ``before`` gives the page of older rows after a cursor, ``after`` the page of newer ones.
    """
    if before is not None and after is not None:
        raise InvalidFilter("a page is either before or after a cursor, not both")
    filters = filters or InboxFilters()
    desk = member_desk(session, user=user, slug=slug)
    via_cases = _case_conditions(session, desk, filters)
    conditions = [Submission.desk_id == desk.id, *_conditions(filters, desk, via_cases)]
    matching = select(Submission.id).where(*conditions)
    query = _seek(
        select(
            Submission.id, Submission.reference, Submission.received_hour, Submission.status
        ).where(*conditions),
        before=before,
        after=after,
    )
    # A first page filtered through cases is read together with its count: one pass over at
    # most COUNT_CAP + 1 matches instead of matching the cases twice. Otherwise counting
    # apart is cheaper than reading a thousand rows.
    merged = before is None and after is None and bool(via_cases)
    found = list(session.execute(query.limit(COUNT_CAP + 1 if merged else PAGE_SIZE + 1)))
    counted = (
        len(found)
        if merged
        else session.scalar(
            select(func.count()).select_from(matching.limit(COUNT_CAP + 1).subquery())
        )
    )
    more = len(found) > PAGE_SIZE
    shown = found[:PAGE_SIZE]
    if after is not None:
        shown.reverse()
    # Rows past the page mean another page that way; the way we came from always has one.
    has_older = more if after is None else True
    has_newer = more if after is not None else before is not None
    older = _token(shown[-1]) if shown and has_older else None
    newer = _token(shown[0]) if shown and has_newer else None
    return InboxPage(
        desk=desk,
        rows=_rows(session, shown),
        filters=filters,
        older=older,
        newer=newer,
        matching=int(counted or 0),
    )


def _seek(query: _Select, *, before: Cursor | None, after: Cursor | None) -> _Select:
    # Newest first from a cursor (or the top); after a cursor, oldest first (then reversed).
    key = tuple_(Submission.received_hour, Submission.id)
    if after is not None:
        return query.where(key > tuple_(after.received_hour, after.id)).order_by(
            Submission.received_hour, Submission.id
        )
    if before is not None:
        query = query.where(key < tuple_(before.received_hour, before.id))
    return query.order_by(Submission.received_hour.desc(), Submission.id.desc())


def _token(row: Any) -> str:
    return Cursor(row.received_hour, row.id).token()


def _conditions(
    filters: InboxFilters, desk: Desk, via_cases: list[ColumnElement[bool]]
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status is not None:
        conditions.append(Submission.status == filters.status)
    if filters.received_from is not None:
        start = dt.datetime.combine(filters.received_from, dt.time())
        conditions.append(Submission.received_hour >= start)
    if filters.received_to is not None:
        end = dt.datetime.combine(filters.received_to + dt.timedelta(days=1), dt.time())
        conditions.append(Submission.received_hour < end)
    if filters.cleaning is not None:
        flagged = exists().where(
            Evidence.submission_id == Submission.id,
            Evidence.cleaning_status == CleaningStatus.NOT_CLEANED,
        )
        conditions.append(flagged if filters.cleaning is Cleaning.NOT_CLEANED else ~flagged)
    if via_cases:
        conditions.append(
            Submission.id.in_(
                select(CaseSubmission.submission_id)
                .join(Case, Case.id == CaseSubmission.case_id)
                .where(Case.desk_id == desk.id, *via_cases)
            )
        )
    return conditions


def _case_conditions(
    session: Session, desk: Desk, filters: InboxFilters
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.priority is not None:
        conditions.append(Case.priority == filters.priority)
    if filters.assignee is not None:
        assignee = next(
            (m for m in desk_members(session, desk) if m.username == filters.assignee), None
        )
        if assignee is None:
            raise InvalidFilter(f"{filters.assignee!r} is not a member of this desk")
        conditions.append(Case.assignee_id == assignee.id)
    for kind, value in (
        (LabelKind.TAG, filters.tag),
        (LabelKind.MINERAL, filters.mineral),
        (LabelKind.RISK, filters.risk),
    ):
        if value is not None:
            conditions.append(Case.id.in_(_labelled(kind, CaseLabel.value == _fold(value))))
    if filters.q is not None:
        # Investigator-written text only: titles, summaries and tags. Never source content.
        term = _fold(filters.q)
        sqlite = session.get_bind().dialect.name == "sqlite"
        conditions.append(
            or_(
                _contains_folded(Case.title, term, sqlite=sqlite),
                _contains_folded(Case.summary, term, sqlite=sqlite),
                Case.id.in_(
                    _labelled(LabelKind.TAG, CaseLabel.value.contains(term, autoescape=True))
                ),
            )
        )
    return conditions


def _contains_folded(column: Any, term: str, *, sqlite: bool) -> ColumnElement[bool]:
    # SQLite's LIKE already ignores ASCII case: lower() on every row would double the scan.
    # On PostgreSQL, lower() LIKE measured faster than ILIKE (and plans alike).
    if sqlite:
        return column.contains(term, autoescape=True)
    return func.lower(column).contains(term, autoescape=True)


def _labelled(kind: LabelKind, condition: ColumnElement[bool]) -> Select[Any]:
    return select(CaseLabel.case_id).where(CaseLabel.kind == kind, condition)


def _fold(value: str) -> str:
    # Labels are stored lower-cased; SQL lower() folds ASCII alike on every database.
    return value.strip().lower()


def _rows(session: Session, shown: list[Any]) -> list[InboxRow]:
    ids = [r.id for r in shown]
    counts: dict[int, Counter[str]] = {i: Counter() for i in ids}
    cases: dict[int, list[CaseRef]] = defaultdict(list)
    if ids:
        for submission_id, cleaning, count in session.execute(
            select(Evidence.submission_id, Evidence.cleaning_status, func.count())
            .where(Evidence.submission_id.in_(ids))
            .group_by(Evidence.submission_id, Evidence.cleaning_status)
        ):
            counts[submission_id][str(cleaning)] = count
        for submission_id, case_id, title in session.execute(
            select(CaseSubmission.submission_id, Case.id, Case.title)
            .join(Case, Case.id == CaseSubmission.case_id)
            .where(CaseSubmission.submission_id.in_(ids))
            .order_by(Case.id)
        ):
            cases[submission_id].append(CaseRef(case_id, title))
    return [
        InboxRow(
            reference=r.reference,
            received_hour=r.received_hour,
            status=str(r.status),
            file_count=sum(counts[r.id].values()),
            cleaning=dict(sorted(counts[r.id].items())),
            cases=cases[r.id],
        )
        for r in shown
    ]


def desk_labels(session: Session, desk: Desk) -> dict[LabelKind, list[str]]:
    """Tags and minerals of the desk's newest cases, to suggest as filter values.

    Only recent cases are read, so the suggestions cost the same on a desk of any size; any
    other value can still be typed.
    """
    recent = (
        select(Case.id)
        .where(Case.desk_id == desk.id)
        .order_by(Case.id.desc())
        .limit(LABEL_SUGGESTION_CASES)
    )
    found: dict[LabelKind, list[str]] = {kind: [] for kind in LabelKind}
    for kind, value in session.execute(
        select(CaseLabel.kind, CaseLabel.value)
        .where(
            CaseLabel.case_id.in_(recent.scalar_subquery()),
            CaseLabel.kind.in_([LabelKind.TAG, LabelKind.MINERAL]),
        )
        .distinct()
        .order_by(CaseLabel.kind, CaseLabel.value)
    ):
        found[kind].append(value)
    return found


# -- the label index ----------------------------------------------------------------------------


def sync_labels(session: Session, case: Case) -> None:
    """Make the case's rows in ``case_labels`` match its tags, minerals and risk codes."""
    session.flush()
    session.execute(delete(CaseLabel).where(CaseLabel.case_id == case.id))
    session.add_all(
        CaseLabel(case_id=case.id, kind=kind, value=value)
        for kind, value in sorted(label_rows(case.tags, case.minerals, case.risk_categories))
    )
    session.flush()


def label_rows(
    tags: Iterable[str], minerals: Iterable[str], risks: Iterable[str]
) -> set[tuple[LabelKind, str]]:
    """The distinct (kind, folded value) labels of a case's three lists."""
    return {
        (kind, value.strip().lower()[:MAX_LABEL_CHARS])
        for kind, values in (
            (LabelKind.TAG, tags),
            (LabelKind.MINERAL, minerals),
            (LabelKind.RISK, risks),
        )
        for value in values
        if value.strip()
    }


# -- saved searches -----------------------------------------------------------------------------


def saved_searches(session: Session, *, user: User, desk: Desk) -> list[SavedSearch]:
    """The user's saved searches on a desk, by name."""
    return list(
        session.scalars(
            select(SavedSearch)
            .where(SavedSearch.user_id == user.id, SavedSearch.desk_id == desk.id)
            .order_by(SavedSearch.name)
        )
    )


def save_search(session: Session, *, user: User, slug: str, name: str, query: str) -> SavedSearch:
    """Keep the filters of ``query`` under ``name`` (replacing a search of that name)."""
    desk = member_desk(session, user=user, slug=slug)
    name = name.strip()
    if not name or len(name) > MAX_SEARCH_NAME_CHARS:
        raise InvalidFilter(f"a saved search's name has 1 to {MAX_SEARCH_NAME_CHARS} characters")
    filters = InboxFilters.from_args(parse_query(query))
    _case_conditions(session, desk, filters)  # an assignee who is not a member is refused here
    mine = saved_searches(session, user=user, desk=desk)
    found = next((s for s in mine if s.name == name), None)
    if found is None:
        if len(mine) >= MAX_SAVED_SEARCHES:
            raise InvalidFilter(f"at most {MAX_SAVED_SEARCHES} saved searches per desk")
        found = SavedSearch(
            user_id=user.id, desk_id=desk.id, name=name, created_hour=current_hour()
        )
        session.add(found)
    found.query = filters.query_string()
    session.flush()
    return found


def delete_search(session: Session, *, user: User, slug: str, search_id: int) -> None:
    """Forget one of the user's saved searches (:class:`NotFound` for anyone else's)."""
    desk = member_desk(session, user=user, slug=slug)
    search = session.get(SavedSearch, search_id) if 0 < search_id <= MAX_ID else None
    if search is None or search.user_id != user.id or search.desk_id != desk.id:
        raise NotFound(f"no saved search {search_id}")
    session.delete(search)


def parse_query(query: str) -> dict[str, str]:
    """The first value of each name in a query string (as the inbox reads its filters)."""
    values: dict[str, str] = {}
    for name, value in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        values.setdefault(name, value)
    return values
