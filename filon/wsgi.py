"""WSGI entry points for other servers, e.g. ``gunicorn "filon.wsgi:intake()"``.

Each reads the instance from ``$FILON_INSTANCE`` (default ``./instance``) and the ``FILON_*``
environment, and refuses to start on exposed key files or a schema that does not match.
"""

from __future__ import annotations

from flask import Flask

from filon.settings import Settings, default_instance_dir


def intake() -> Flask:
    """The intake app for the configured instance, after settling what a crash left."""
    from filon.instance import Instance  # noqa: PLC0415
    from filon.recovery import recover  # noqa: PLC0415
    from intake import create_app  # noqa: PLC0415 - the composition root imports the apps

    settings = Settings.load(default_instance_dir())
    instance = Instance.open(settings)
    recover(instance)
    return create_app(settings, instance)


def casework() -> Flask:
    """The casework app for the configured instance."""
    from casework import create_app  # noqa: PLC0415 - the composition root imports the apps
    from intake.ports import casework_ports  # noqa: PLC0415 - the intake's side of the ports

    return create_app(Settings.load(default_instance_dir()), ports=casework_ports())
