"""The source's forms (Flask-WTF): the submission form and the codename form for replies.

The same submission form serves both paths. Without JavaScript it is posted as multipart to
``POST /submit``, whose handler validates it with :class:`SubmissionForm` (CSRF included).
With JavaScript the page's script reads the same fields, seals them in the browser and sends
them through the JSON API instead, where CSRF does not apply (DESIGN.md §4).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from filon.db import transaction
from filon.models import Desk
from intake.envelope import MAX_FILES
from intake.services import instance

MAX_REPORT_CHARS = 100_000
MAX_PLACE_CHARS = 1_000
MAX_WHEN_CHARS = 200
MAX_CODENAME_CHARS = 400
# A source on a slow Tor circuit may take hours to write a report and upload a video: a
# token that expired meanwhile would throw the whole upload away. CSRF guards against
# another site posting in the source's name; a day is ample for that and kind to slow links.
CSRF_TIME_LIMIT = int(dt.timedelta(hours=24).total_seconds())


def desk_choices() -> list[tuple[str, str]]:
    """The desks a source can send to, as (slug, name), sorted by name."""
    with transaction(instance().sessions) as session:
        rows = session.execute(select(Desk.slug, Desk.name).order_by(Desk.name, Desk.slug))
        return [(slug, name) for slug, name in rows]


def _normalize_newlines(value: str | None) -> str | None:
    # Browsers post a textarea's line breaks as CRLF but count them as one character:
    # normalise so the length limit means what the page's maxlength says.
    return value.replace("\r\n", "\n") if isinstance(value, str) else value


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _must_stay_empty(form: FlaskForm, field: StringField) -> None:
    # A honeypot: people never see this field (it is moved off screen and skipped by the
    # keyboard), so a value in it means a script filled every field it found.
    if field.data:
        raise ValidationError(_l("This field must stay empty."))


class _SourceForm(FlaskForm):
    """Settings shared by the source's forms."""

    class Meta:
        csrf_time_limit = CSRF_TIME_LIMIT

    lang = HiddenField(filters=[_strip])


class SubmissionForm(_SourceForm):
    """A report, its files and, for a returning source, their codename."""

    desk = SelectField(
        _l("Who should receive this?"),
        validate_choice=False,  # checked below, with a message in the source's language
        validators=[DataRequired(message=_l("Choose who should receive this."))],
    )
    report = TextAreaField(
        _l("What happened?"),
        filters=[_normalize_newlines],
        validators=[
            DataRequired(message=_l("Please write what happened.")),
            Length(
                max=MAX_REPORT_CHARS,
                message=_l("Please keep the report under 100,000 characters."),
            ),
        ],
    )
    place = StringField(
        _l("Where did it happen? (optional)"),
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=MAX_PLACE_CHARS, message=_l("Please write a shorter place.")),
        ],
    )
    when = StringField(
        _l("When did it happen? (optional)"),
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=MAX_WHEN_CHARS, message=_l("Please write a shorter date or time.")),
        ],
    )
    files = MultipleFileField(_l("Photos, videos or documents (optional)"))
    keep_metadata = BooleanField(_l("Keep where and when my photos were taken"), default=False)
    codename = StringField(
        _l("Your codename, if you have sent something before (optional)"),
        filters=[_strip],
        validators=[
            Optional(),
            Length(max=MAX_CODENAME_CHARS, message=_l("A codename is eight words.")),
        ],
    )
    website = StringField(_l("Leave this field empty"), validators=[_must_stay_empty])

    def __init__(
        self, *args: Any, desks: Sequence[tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = list(desks) if desks is not None else desk_choices()
        self.desk.choices = choices
        self._desk_slugs = {slug for slug, _name in choices}
        if len(choices) == 1 and not self.desk.data:
            self.desk.data = choices[0][0]

    def validate_desk(self, field: SelectField) -> None:
        """The desk must be one this intake has."""
        if field.data not in self._desk_slugs:
            raise ValidationError(_l("Choose who should receive this."))

    def validate_files(self, field: MultipleFileField) -> None:
        """No more files than the protocol accepts in one submission."""
        chosen = [f for f in field.data or [] if getattr(f, "filename", "")]
        if len(chosen) > MAX_FILES:
            raise ValidationError(
                _l("Please send at most %(count)d files at a time.", count=MAX_FILES)
            )


class RepliesForm(_SourceForm):
    """A returning source's codename, to read the replies sent to them."""

    codename = StringField(
        _l("Your codename"),
        filters=[_strip],
        validators=[
            DataRequired(message=_l("Please type your codename.")),
            Length(max=MAX_CODENAME_CHARS, message=_l("A codename is eight words.")),
        ],
    )
