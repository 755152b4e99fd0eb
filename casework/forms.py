"""The casework's forms (Flask-WTF, CSRF on every one)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional

from casework.bulk import SETTABLE
from casework.cases import MAX_COMMENT_CHARS, MAX_NOTE_CHARS, MAX_SUMMARY_CHARS
from casework.models import (
    MAX_GEOTAG_NOTE_CHARS,
    MAX_PLACE_CHARS,
    MAX_SEARCH_NAME_CHARS,
    MAX_TITLE_CHARS,
    ActorKind,
    CasePriority,
    CaseStatus,
    GeotagMethod,
)
from casework.registers.minerals import MINERALS
from casework.risks import RISK_CATEGORIES
from filon.accounts import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS
from filon.replies import MAX_REPLY_CHARS


class LoginForm(FlaskForm):
    """Username, password and the current TOTP code."""

    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    code = StringField("Authenticator code", validators=[DataRequired(), Length(max=16)])


class LogoutForm(FlaskForm):
    """Signing out is a POST with a CSRF token, so another site cannot sign a user out."""


class ReplyForm(FlaskForm):
    """A message to the source of a submission."""

    text = TextAreaField("Reply", validators=[DataRequired(), Length(max=MAX_REPLY_CHARS)])


class PasswordChangeForm(FlaskForm):
    """The current password and a TOTP code, then the new password twice."""

    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=MAX_PASSWORD_CHARS)]
    )
    code = StringField("Authenticator code", validators=[DataRequired(), Length(max=16)])
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_CHARS, max=MAX_PASSWORD_CHARS)],
    )
    new_password_again = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("new_password", message="The passwords differ.")],
    )


class StepUpForm(FlaskForm):
    """Password and a fresh TOTP code again, before a key operation or an export."""

    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    code = StringField("Authenticator code", validators=[DataRequired(), Length(max=16)])
    next = HiddenField()


class AddMemberForm(FlaskForm):
    """An account to give a desk's key to (the view fills the choices)."""

    username = SelectField(
        "Account", choices=[], validate_choice=False, validators=[DataRequired(), Length(max=64)]
    )
    can_export = BooleanField("May export dossiers")


class ConfirmForm(FlaskForm):
    """A confirmation button for a key operation: only the CSRF token travels."""


def _values(values: Iterable[str]) -> list[Any]:
    # Plain strings (value = label): WTForms 3.3 deprecates tuples, and the types-WTForms
    # stubs do not know its SelectChoice yet.
    return list(values)


class CaseCreateForm(FlaskForm):
    """A new case from a submission: it needs only a title."""

    title = StringField("Case title", validators=[DataRequired(), Length(max=MAX_TITLE_CHARS)])


class CaseStatusForm(FlaskForm):
    """The status a case moves to (the service checks the move is allowed)."""

    status = SelectField("Status", choices=_values(CaseStatus))


class CaseUpdateForm(FlaskForm):
    """A case's investigator-authored fields; lists are comma-separated."""

    title = StringField("Title", validators=[DataRequired(), Length(max=MAX_TITLE_CHARS)])
    priority = SelectField("Priority", choices=_values(CasePriority))
    assignee = StringField("Assignee", validators=[Length(max=64)])
    summary = TextAreaField("Summary", validators=[Length(max=MAX_SUMMARY_CHARS)])
    minerals = StringField("Minerals", validators=[Length(max=1000)])
    # Codes are checked by the service against casework.risks, with a clear message.
    risk_categories = SelectMultipleField(
        "OECD Annex II risks",
        choices=_values(RISK_CATEGORIES),
        validate_choice=False,
    )
    tags = StringField("Tags", validators=[Length(max=1000)])


class NoteForm(FlaskForm):
    """A note on a case, sealed to the desk key."""

    text = TextAreaField("Note", validators=[DataRequired(), Length(max=MAX_NOTE_CHARS)])


class CaseMergeForm(FlaskForm):
    """The case this one is merged into (the service checks it is an open case of the desk)."""

    into = IntegerField("Merge into case", validators=[DataRequired(), NumberRange(min=1)])


class EvidenceLinkForm(FlaskForm):
    """A file linked to a case, with an optional comment sealed to the desk."""

    case = IntegerField("Case", validators=[DataRequired(), NumberRange(min=1)])
    comment = TextAreaField("Comment", validators=[Length(max=MAX_COMMENT_CHARS)])


class EvidenceCommentForm(FlaskForm):
    """A new comment for an evidence link (empty clears it)."""

    comment = TextAreaField("Comment", validators=[Length(max=MAX_COMMENT_CHARS)])


class EvidenceUnlinkForm(FlaskForm):
    """Unlinking is a POST with a CSRF token."""


class FileOnBehalfForm(FlaskForm):
    """A submission a staff member files for a source, after a phone interview."""

    desk = StringField("Desk", validators=[DataRequired(), Length(max=64)])
    report = TextAreaField(
        "What the source reported", validators=[DataRequired(), Length(max=100_000)]
    )
    place = StringField("Where", validators=[Length(max=1000)])
    when = StringField("When", validators=[Length(max=1000)])
    lang = SelectField("Source's language", choices=_values(("en", "fr", "sw", "nl")))
    issue_codename = BooleanField("Issue a codename for the source")
    files = MultipleFileField("Files")


BULK_ACTIONS = ("status", "new_case", "add_to_case")
MAX_QUERY_CHARS = 2000


class BulkActionForm(FlaskForm):
    """Submissions ticked in the inbox and what to do with them; ``back`` keeps the filters."""

    submission = SelectMultipleField("Selected", choices=[], validate_choice=False)
    action = SelectField("Action", choices=_values(BULK_ACTIONS))
    # Checked by the view, only for the status action (the other actions send none).
    status = SelectField("Status", choices=_values(SETTABLE), validate_choice=False)
    title = StringField("New case title", validators=[Length(max=MAX_TITLE_CHARS)])
    case = IntegerField("Case number", validators=[Optional(), NumberRange(min=1, max=2**31 - 1)])
    back = HiddenField(validators=[Length(max=MAX_QUERY_CHARS)])


class SavedSearchForm(FlaskForm):
    """The inbox's current filters (a query string) kept under a name."""

    name = StringField(
        "Save these filters as", validators=[DataRequired(), Length(max=MAX_SEARCH_NAME_CHARS)]
    )
    query = HiddenField(validators=[Length(max=MAX_QUERY_CHARS)])


class DeleteSearchForm(FlaskForm):
    """Forgetting a saved search is a POST with a CSRF token."""


MAX_RECORD = 2**31 - 1


class ActorForm(FlaskForm):
    """A new actor of the register: kind, name and country (the service checks the kind)."""

    kind = SelectField("Kind", choices=_values(ActorKind), validate_choice=False)
    name = StringField("Name", validators=[DataRequired(), Length(max=MAX_TITLE_CHARS)])
    country = StringField("Country", validators=[Length(max=MAX_PLACE_CHARS)])


class ChainLinkForm(FlaskForm):
    """A chain link from a site or an actor to an actor, with the files that support it.

    Codes and ids are checked by the service (an unknown mineral, actor or file is a 4xx
    with a message, not a silent drop).
    """

    from_site = IntegerField(
        "From mine site", validators=[Optional(), NumberRange(min=1, max=MAX_RECORD)]
    )
    from_actor = IntegerField(
        "From actor", validators=[Optional(), NumberRange(min=1, max=MAX_RECORD)]
    )
    to_actor = IntegerField(
        "To actor", validators=[DataRequired(), NumberRange(min=1, max=MAX_RECORD)]
    )
    mineral = SelectField(
        "Mineral", choices=_values(m.code for m in MINERALS), validate_choice=False
    )
    period_start = DateField("From", validators=[Optional()])
    period_end = DateField("Until", validators=[Optional()])
    reference = HiddenField(validators=[Length(max=64)])
    evidence = SelectMultipleField("Supporting files", choices=[], validate_choice=False)

    def file_numbers(self) -> list[int] | None:
        """The ticked files' numbers, or None if one is not a number."""
        values = self.evidence.data or []
        if not all(v.isascii() and v.isdigit() and len(v) <= 6 for v in values):
            return None
        return [int(v) for v in values]


def split_list(text: str | None) -> list[str]:
    """The entries of a comma-separated field."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


MAX_NUMBER_CHARS = 40


class GeotagForm(FlaskForm):
    """A geotag: a file's consented location in one click, or a position placed by hand.

    Latitude, longitude and precision are text: the service reads them (a decimal comma
    too) and says exactly what is wrong, where a float field would take "nan" or "inf".
    """

    method = SelectField("How it was obtained", choices=_values(GeotagMethod))
    file = IntegerField("File", validators=[Optional(), NumberRange(min=1, max=2**31 - 1)])
    case = IntegerField("Case", validators=[Optional(), NumberRange(min=1, max=2**31 - 1)])
    latitude = StringField("Latitude", validators=[Length(max=MAX_NUMBER_CHARS)])
    longitude = StringField("Longitude", validators=[Length(max=MAX_NUMBER_CHARS)])
    precision_m = StringField("Precision (metres)", validators=[Length(max=MAX_NUMBER_CHARS)])
    note = StringField("Note", validators=[Length(max=MAX_GEOTAG_NOTE_CHARS)])


class GeotagCorrectForm(FlaskForm):
    """A geotag moved or made more or less precise, by hand."""

    method = SelectField(
        "How it was obtained", choices=_values((GeotagMethod.INVESTIGATOR, GeotagMethod.TEXT))
    )
    latitude = StringField("Latitude", validators=[Length(max=MAX_NUMBER_CHARS)])
    longitude = StringField("Longitude", validators=[Length(max=MAX_NUMBER_CHARS)])
    precision_m = StringField("Precision (metres)", validators=[Length(max=MAX_NUMBER_CHARS)])
    note = StringField("Note", validators=[Length(max=MAX_GEOTAG_NOTE_CHARS)])


class GeotagDeleteForm(FlaskForm):
    """Deleting a geotag is a POST with a CSRF token."""
