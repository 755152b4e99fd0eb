"""The casework's forms (Flask-WTF, CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

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
