"""The export form: which files, which answers, how precise a location (Flask-WTF, CSRF)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length

from casework.dossier.export import MAX_PRECISION, ExportOptions

OMIT = "omit"


def _values(values: list[str]) -> list[Any]:
    # Plain strings (value = label), as casework/forms.py does: the types-WTForms stubs do
    # not know WTForms 3.3's SelectChoice yet.
    return values


MAX_REDACT_CHARS = 2000


class ExportForm(FlaskForm):
    """The choices made before a dossier is exported."""

    # Chosen ids are checked against the case's own files by the service (an unknown one is
    # a clear 400 there); a value that is no number makes the form invalid.
    evidence = SelectMultipleField("Evidence files", coerce=int, validate_choice=False)
    include_answers = BooleanField("Include the sources' answers in the report")
    redact = StringField(
        "Answer fields to redact (comma-separated)", validators=[Length(max=MAX_REDACT_CHARS)]
    )
    location_precision = SelectField(
        "Consented locations",
        # The template writes the labels.
        choices=_values([OMIT, *(str(n) for n in range(MAX_PRECISION + 1))]),
        default="2",
    )
    include_not_cleaned = BooleanField(
        "I confirm: include files that could not be cleaned of metadata"
    )

    def options(self) -> ExportOptions:
        """The choices as the exporter takes them."""
        precision = self.location_precision.data
        return ExportOptions(
            evidence=frozenset(self.evidence.data or ()),  # none ticked: refused, not "all"
            include_answers=bool(self.include_answers.data),
            redact=frozenset(
                name.strip() for name in (self.redact.data or "").split(",") if name.strip()
            ),
            location_precision=None if precision in (None, OMIT) else int(precision),
            include_not_cleaned=bool(self.include_not_cleaned.data),
        )
