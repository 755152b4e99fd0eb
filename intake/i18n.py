"""The source pages' languages: English, French, Dutch and Swahili (Flask-Babel).

The language comes from a ``lang`` parameter (query string, or a form field the page carries
as a hidden input), else from the browser's Accept-Language. It is never kept in a cookie:
a cookie would outlive the visit and tell whoever picks up the phone which language the
source reads, and the intake sets no cookie it does not need.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from flask import Flask, request
from flask_babel import Babel

DEFAULT_LANGUAGE = "en"
# Language code → its name written in that language, in the order the switcher shows them.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "fr": "Français",
    "nl": "Nederlands",
    "sw": "Kiswahili",
}
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
COMPILE_COMMAND = "pybabel compile -d intake/translations -D messages"


def supported(code: object) -> str | None:
    """``code`` if it names a language the pages are written in, else ``None``."""
    if not isinstance(code, str):
        return None
    code = code.strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in LANGUAGES else None


def select_locale() -> str:
    """The language of this request: ``lang`` parameter, else Accept-Language, else English."""
    chosen = supported(request.args.get("lang"))
    # Read the form only if a view has parsed it already: parsing it here would consume the
    # upload stream before the no-JS handler's own stream factory sees it.
    form = request.__dict__.get("form")
    if chosen is None and form is not None:
        chosen = supported(form.get("lang"))
    if chosen is None:
        chosen = request.accept_languages.best_match(list(LANGUAGES))
    return chosen or DEFAULT_LANGUAGE


def missing_catalogues() -> list[str]:
    """Languages whose compiled catalogue (``messages.mo``) is absent."""
    return [
        code
        for code in LANGUAGES
        if code != DEFAULT_LANGUAGE
        and not (TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo").is_file()
    ]


def init_app(app: Flask) -> None:
    """Attach Flask-Babel to the intake app."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select_locale)
    missing = missing_catalogues()
    if missing:
        # Pages still work (in English), but a source who asked for French would not get it.
        app.logger.warning(
            "translations not compiled for %s: run '%s'", ", ".join(missing), COMPILE_COMMAND
        )


def policy_texts() -> list[str]:
    """Every text the metadata policy tells a source, as the pages show it (to translate)."""
    from intake.metadata import POLICIES  # noqa: PLC0415 - only the extractor and pages need it
    from intake.metadata.policy import TOO_LARGE  # noqa: PLC0415

    texts = [TOO_LARGE]
    for policy in POLICIES.values():
        texts += [policy.label, *policy.removed, *policy.kept]
        if policy.warning:
            texts.append(policy.warning)
    return list(dict.fromkeys(texts))


def extract_policies(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel extractor (babel.cfg) for the metadata policy's texts.

    ``intake/metadata/policy.py`` words what cleaning does in plain English, with no gettext
    markers; the pages translate those texts at run time, so the catalogues must hold them.
    """
    for text in policy_texts():
        yield 0, None, text, ["metadata policy (intake/metadata/policy.py)"]
