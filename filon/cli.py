"""The ``filon`` command (DESIGN.md §9): the composition root with :mod:`filon.wsgi`."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.errors import CryptoFailure, WrongPassword
from crypto.keys import BoxKeyPair, fingerprint, format_fingerprint, parse_recovery_key
from filon import schema
from filon.accounts import (
    DeskGrant,
    create_user,
    generate_password,
    get_user,
    open_desk_key,
    totp_uri,
)
from filon.accounts import unlock_user_key as _unlock
from filon.db import current_day, make_engine, transaction
from filon.demo import (
    DEMO_DESK,
    render_logins,
    render_samples,
    save_demo_text,
    saved_logins,
    seed_demo,
)
from filon.desks import create_desk, get_desk, open_desk_key_with_recovery
from filon.dossier_verify import UNCHECKED_KEY, group, normalize_fingerprint
from filon.dossier_verify import examine as examine_dossier
from filon.errors import FilonError
from filon.instance import Instance, init_instance
from filon.keyring import Keyring, check_permissions
from filon.models import Desk, Role, User
from filon.retention import expired
from filon.retention import purge as purge_submission
from filon.settings import Settings, default_instance_dir
from filon.submissions import open_submission, safe_filename, write_evidence

F = TypeVar("F", bound=Callable[..., Any])
SERVED_APPS = ("intake", "casework")


def instance_option(func: F) -> F:
    """``--instance DIR``, defaulting to ``$FILON_INSTANCE`` or ``./instance``."""
    return click.option(
        "--instance",
        "instance_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Instance directory (default: $FILON_INSTANCE or ./instance).",
    )(func)


def _settings(instance_dir: Path | None) -> Settings:
    return Settings.load(instance_dir or default_instance_dir())


def _open(instance_dir: Path | None) -> Instance:
    return Instance.open(_settings(instance_dir))


def read_secret(prompt: str) -> str:
    """Read a secret from the terminal without echo, or one line of stdin when piped."""
    if sys.stdin.isatty():
        value: str = click.prompt(prompt, hide_input=True)
        return value
    line = sys.stdin.readline()
    if not line:
        raise click.ClickException(f"{prompt}: nothing on standard input")
    return line.rstrip("\r\n")


@click.group()
@click.version_option(package_name="filon")
def cli() -> None:
    """Filon: secure intake and casework for evidence about conflict minerals."""


@cli.command()
@instance_option
@click.option("--demo", is_flag=True, help="Add a demo desk and staff accounts.")
@click.option("--demo-password", default=None, help="Give every demo account this password.")
@click.option(
    "--database-url", default=None, help="Database URL (default: SQLite in the instance)."
)
def init(
    instance_dir: Path | None, demo: bool, demo_password: str | None, database_url: str | None
) -> None:
    """Create an instance: settings, database, keys; print the recovery key once."""
    if demo_password is not None and not demo:
        raise click.UsageError("--demo-password goes with --demo")
    created = init_instance(instance_dir or default_instance_dir(), database_url=database_url)
    instance = created.instance
    click.echo(f"Filon instance created in {instance.settings.instance_dir}")
    click.echo(
        "intake key: "
        + format_fingerprint(instance.keyring.current_intake_key().key_id)
        + "\nsigning key: "
        + format_fingerprint(fingerprint(instance.keyring.signing_key().public))
    )
    click.echo(
        "\nRECOVERY KEY (shown once, never stored; print it, keep it offline, lose it and "
        "lost desks stay lost):\n"
        f"  {created.recovery_key_text}\n"
        f"  fingerprint {format_fingerprint(fingerprint(created.recovery_public_key))}\n"
    )
    if demo:
        from casework.registers.demo import seed_registers  # noqa: PLC0415
        from intake.demo import seed_submissions  # noqa: PLC0415 - composition root

        logins = seed_demo(instance, password=demo_password)
        outcomes = seed_submissions(instance, DEMO_DESK)
        text = render_logins(logins) + render_samples([(o.receipt, o.codename) for o in outcomes])
        text += seed_registers(instance.sessions)[1]
        save_demo_text(instance.settings.instance_dir, text)
        click.echo(text)
    instance.close()


@cli.command()
@instance_option
def upgrade(instance_dir: Path | None) -> None:
    """Migrate the database to this version of Filon (back it up first)."""
    settings = _settings(instance_dir)
    engine = make_engine(settings.database_url)
    before = schema.current_revision(engine)
    schema.upgrade(engine)
    after = schema.current_revision(engine)
    click.echo(f"database at revision {after}" + ("" if before == after else f" (was {before})"))
    engine.dispose()


@cli.command()
@instance_option
@click.option("--host", default=None, help="Address for both apps (default: from settings).")
@click.option("--intake-port", type=int, default=None)
@click.option("--casework-port", type=int, default=None)
@click.option(
    "--only",
    type=click.Choice(SERVED_APPS),
    default=None,
    help="Serve this app alone (default: both, or $FILON_SERVE_ONLY).",
)
def serve(
    instance_dir: Path | None,
    host: str | None,
    intake_port: int | None,
    casework_port: int | None,
    only: str | None,
) -> None:
    """Serve the intake and the casework apps, on two ports (or one of them with --only)."""
    only = only or _serve_only_from_env()
    from casework import create_app as create_casework  # noqa: PLC0415 - composition root
    from filon.recovery import recover
    from filon.serve import Listener
    from filon.serve import serve as run_servers
    from intake import create_app as create_intake
    from intake.ports import casework_ports

    instance = _open(instance_dir)
    recovered = recover(instance)
    if recovered.workspaces:
        click.echo(
            f"recovered after a crash: {recovered.removed} unfinished file(s) removed, "
            f"{recovered.returned} upload(s) given back"
        )
    settings = instance.settings
    # In a container or unit of its own (--only), each app runs in a process of its own: a
    # flaw in the public intake then finds no staff session or unlocked key in its memory.
    listeners = []
    if only in (None, "intake"):
        listeners.append(
            Listener(
                "intake",
                create_intake(settings, instance),
                host or settings.intake_host,
                settings.intake_port if intake_port is None else intake_port,
            )
        )
    if only in (None, "casework"):
        listeners.append(
            Listener(
                "casework",
                create_casework(settings, instance, ports=casework_ports()),
                host or settings.casework_host,
                settings.casework_port if casework_port is None else casework_port,
            )
        )
    logins = saved_logins(settings.instance_dir)
    if logins:
        click.echo(logins, nl=False)
    run_servers(listeners, threads=settings.threads, announce=lambda line: click.echo(line))


def _serve_only_from_env() -> str | None:
    value = os.environ.get("FILON_SERVE_ONLY", "")
    if value and value not in SERVED_APPS:
        raise click.UsageError(f"FILON_SERVE_ONLY={value!r}: it must be intake or casework")
    return value or None


@cli.command("rotate-intake-key")
@instance_option
def rotate_intake_key(instance_dir: Path | None) -> None:
    """Make a new intake key current; old keys stay until their uploads finish."""
    settings = _settings(instance_dir)
    check_permissions(settings.keys_dir)
    key = Keyring(settings.keys_dir).rotate_intake_key()
    click.echo(f"new intake key: {format_fingerprint(key.key_id)}")


@cli.command("open")
@instance_option
@click.argument("receipt")
@click.option("--user", "username", required=True, help="A member of the submission's desk.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the cleaned files here.",
)
def open_command(instance_dir: Path | None, receipt: str, username: str, out: Path | None) -> None:
    """Print a submission's answers as JSON and write its cleaned files to --out."""
    instance = _open(instance_dir)
    with instance.sessions() as session:
        member = get_user(session, username)
        user_key = _unlock(member, read_secret(f"Password of {username}"))
        opened = open_submission(session, reference=receipt, user=member, user_key=user_key)
        files = []
        if out is not None:
            out.mkdir(mode=0o700, parents=True, exist_ok=True)
        reports = opened.document.get("files", [])
        for index, (evidence, report) in enumerate(zip(opened.evidence, reports, strict=True)):
            entry = {
                k: report.get(k)
                for k in (
                    "name",
                    "type",
                    "size",
                    "sha256",
                    "status",
                    "found",
                    "removed",
                    "reason",
                    "location",
                    "taken_at",
                )
            }
            if out is not None:
                path = out / safe_filename(report.get("name", ""), index, report.get("extension"))
                with open(path, "xb") as handle:
                    write_evidence(instance.store, evidence, opened.desk_key, handle)
                entry["path"] = str(path)
            files.append(entry)
    click.echo(
        json.dumps(
            {
                "receipt": opened.submission.reference,
                "desk": opened.desk.slug,
                "received_at": opened.document.get("received_at"),
                "lang": opened.document.get("lang"),
                "answers": opened.document.get("answers", {}),
                "files": files,
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    instance.close()


@cli.command("verify")
@click.argument("dossier", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--fingerprint", default=None, help="The signing key fingerprint you expect.")
@click.pass_context
def verify_command(ctx: click.Context, dossier: Path, fingerprint: str | None) -> None:
    """Check a filon-dossier/1 ZIP: signature, listed files, nothing added. Exit 0 only if so."""
    if fingerprint is not None and normalize_fingerprint(fingerprint) is None:
        raise click.BadParameter(
            "expected 64 hexadecimal digits (spaces allowed)", param_hint="'--fingerprint'"
        )
    problems, signer = examine_dossier(dossier, fingerprint)
    for problem in problems:
        click.echo(problem)
    if problems:
        click.echo(f"NOT VERIFIED: {len(problems)} problem(s) in {dossier}", err=True)
        ctx.exit(1)
    click.echo(f"OK: {dossier} is intact, signed by the key {group(signer or '')}")
    if fingerprint is None:
        click.echo(UNCHECKED_KEY)


@cli.command("export")
@instance_option
@click.argument("case_id", metavar="CASE", type=click.IntRange(min=1))
@click.option("--user", "username", required=True, help="A member allowed to export.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the dossier ZIP here (a new file).",
)
@click.option("--no-answers", is_flag=True, help="Leave the sources' answers out of the report.")
@click.option("--redact", multiple=True, help="Show this answer field as [redacted] (repeatable).")
@click.option(
    "--location-precision",
    type=click.IntRange(0, 6),
    default=2,
    show_default=True,
    help="Decimal places of consented locations.",
)
@click.option("--no-locations", is_flag=True, help="Leave consented locations out.")
@click.option(
    "--include-not-cleaned",
    is_flag=True,
    help="Include files that could not be cleaned of metadata (they may identify a source).",
)
def export_command(
    instance_dir: Path | None,
    case_id: int,
    username: str,
    out: Path,
    no_answers: bool,
    redact: tuple[str, ...],
    location_precision: int,
    no_locations: bool,
    include_not_cleaned: bool,
) -> None:
    """Write a case as a signed dossier (filon-dossier/1); the export is audited."""
    from casework.dossier.export import ExportOptions, export_case  # noqa: PLC0415
    from intake.ports import casework_ports  # noqa: PLC0415 - composition root

    options = ExportOptions(
        include_answers=not no_answers,
        redact=frozenset(redact),
        location_precision=None if no_locations else location_precision,
        include_not_cleaned=include_not_cleaned,
    )
    instance = _open(instance_dir)
    try:
        with instance.sessions() as session:
            member = get_user(session, username)
        user_key = _unlock(member, read_secret(f"Password of {username}"))
        with open(out, "xb") as handle:
            try:
                dossier = export_case(
                    instance.sessions,
                    handle,
                    store=instance.store,
                    signing_key=instance.keyring.signing_key(),
                    user=member,
                    user_key=user_key,
                    case_id=case_id,
                    options=options,
                    ports=casework_ports(),
                )
            except BaseException:
                out.unlink(missing_ok=True)  # never leave half a dossier that looks like one
                raise
    finally:
        instance.close()
    click.echo(f"dossier written to {out} ({out.stat().st_size:,} bytes)")
    click.echo(f"manifest sha256: {dossier.manifest_sha256}")
    click.echo(
        "signing key: " + format_fingerprint(fingerprint(instance.keyring.signing_key().public))
    )


def _run_import(instance_dir: Path | None, work: Callable[[Instance], Any]) -> None:
    """Run an import against the instance, print its report; a refused file exits 1."""
    instance = _open(instance_dir)
    try:
        report = work(instance)
    except FilonError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        instance.close()
    click.echo(report.render())


@cli.command("import-sites")
@instance_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dataset", default=None, help="The source dataset's name (default: ipis, or osm).")
@click.option("--dry-run", is_flag=True, help="Report what would change, and write nothing.")
def import_sites(instance_dir: Path | None, file: Path, dataset: str | None, dry_run: bool) -> None:
    """Import mine sites: IPIS-style visits (CSV, GeoJSON) or OpenStreetMap GeoJSON."""
    from casework.registers.detect import import_sites_file  # noqa: PLC0415 - composition root

    _run_import(
        instance_dir,
        lambda instance: import_sites_file(
            instance.sessions, file, dataset=dataset, dry_run=dry_run
        ),
    )


@cli.command("import-actors")
@instance_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--dataset", default=None, help="The source dataset's name (default: rmi, or actors)."
)
@click.option("--dry-run", is_flag=True, help="Report what would change, and write nothing.")
def import_actors(
    instance_dir: Path | None, file: Path, dataset: str | None, dry_run: bool
) -> None:
    """Import actors: a CMRT/EMRT .xlsx or smelter CSV, or a plain kind,name,country CSV."""
    from casework.registers.detect import import_actors_file  # noqa: PLC0415 - composition root

    _run_import(
        instance_dir,
        lambda instance: import_actors_file(
            instance.sessions, file, dataset=dataset, dry_run=dry_run
        ),
    )


@cli.command("import-links")
@instance_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Report what would change, and write nothing.")
def import_links(instance_dir: Path | None, file: Path, dry_run: bool) -> None:
    """Import chain links (site or actor → actor, mineral, period) from a CSV."""
    from casework.registers.links import import_file  # noqa: PLC0415 - composition root

    _run_import(
        instance_dir, lambda instance: import_file(instance.sessions, file, dry_run=dry_run)
    )


@cli.command("backup")
@instance_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the archive here (a new file).",
)
def backup_command(instance_dir: Path | None, out: Path) -> None:
    """Write one archive of the database, blobs and keys, sealed to the recovery key and signed."""
    from filon.backup import describe, write_backup  # noqa: PLC0415 - only this command needs it

    if out.exists():
        raise click.ClickException(f"{out} already exists: choose a new file")
    instance = _open(instance_dir)
    try:
        header = write_backup(instance, out)
    except OSError as exc:  # a missing folder, a full disk, no permission
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        instance.close()
    click.echo(f"backup written to {out}")
    click.echo(describe(header))
    click.echo(
        "It opens only with the recovery key; keep the file where the instance's disk is not."
    )


@cli.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--instance",
    "instance_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A new or empty folder for the restored instance.",
)
@click.option(
    "--database-url",
    default=None,
    help="An empty database to restore into (default: SQLite in the new instance).",
)
@click.option(
    "--signing-key",
    "signing_key",
    default=None,
    help="The org signing key fingerprint you expect (printed by 'filon init').",
)
def restore_command(
    archive: Path, instance_dir: Path, database_url: str | None, signing_key: str | None
) -> None:
    """Check a backup whole (signature, hashes, stream), then restore it into a new instance."""
    from filon.backup import check_target, describe, read_header, restore  # noqa: PLC0415

    expected = None
    if signing_key is not None:
        expected = normalize_fingerprint(signing_key)
        if expected is None:
            raise click.BadParameter(
                "expected 64 hexadecimal digits (spaces allowed)", param_hint="'--signing-key'"
            )
    check_target(instance_dir)  # before asking for anything
    header = read_header(archive, expected_signer=expected)
    recovery = parse_recovery_key(read_secret("Recovery key"))
    try:
        done = restore(
            archive,
            instance_dir,
            recovery=recovery,
            database_url=database_url,
            expected_signer=expected,
        )
    except OSError as exc:  # a full disk, no permission: nothing was left behind
        raise click.ClickException(f"cannot restore into {instance_dir}: {exc}") from None
    click.echo(f"restored into {done.instance_dir}")
    click.echo(describe(header))
    if expected is None:
        click.echo(
            "Compare the signing key above with the one 'filon init' printed (or pass "
            "--signing-key): only that proves the backup is your organisation's."
        )
    if done.behind_code:
        click.echo(
            f"The database is behind this Filon: run 'filon upgrade --instance {done.instance_dir}'"
        )


@cli.command()
@instance_option
@click.option("--dry-run", is_flag=True, help="List what would go, and remove nothing.")
def purge(instance_dir: Path | None, dry_run: bool) -> None:
    """Destroy submissions past their desk's retention that are not attached to a case."""
    instance = _open(instance_dir)
    with instance.sessions() as session:
        items = expired(session)
    for item in items:
        click.echo(
            f"{'would purge' if dry_run else 'purging'} {item.reference} ({item.desk}, "
            f"received {item.received_hour:%Y-%m-%d %H:00}, {item.files} file(s))"
        )
        if not dry_run:
            with transaction(instance.sessions) as session:
                purge_submission(session, instance.store, item)
    click.echo(f"{len(items)} submission(s) {'would be ' if dry_run else ''}purged")
    instance.close()


@cli.command("digest")
@instance_option
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The UTC day to report (default: yesterday, the last whole day).",
)
def digest_command(instance_dir: Path | None, day: dt.datetime | None) -> None:
    """Mail every staff member today's content-free digest (run once a day by a timer)."""
    import logging  # noqa: PLC0415 - only this command logs to the terminal

    from filon.digest import SmtpSettings, send_digests  # noqa: PLC0415

    settings = _settings(instance_dir)
    smtp = SmtpSettings.from_environ(
        default_link=f"http://{settings.casework_host}:{settings.casework_port}/"
    )  # checked before anything is opened or sent
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    report_day = day.date() if day is not None else current_day() - dt.timedelta(days=1)
    instance = Instance.open(settings)
    try:
        report = send_digests(instance.sessions, smtp, day=report_day)
    finally:
        instance.close()
    click.echo(f"digest {report_day.isoformat()}: sent to {len(report.sent)} staff member(s)")
    if report.without_email:
        click.echo(
            "  no email address (set one with 'filon user set-email'): "
            + ", ".join(report.without_email)
        )
    if report.failed:
        raise click.ClickException(
            f"the digest could not be sent to {', '.join(report.failed)} after every attempt"
        )


@cli.group()
def desk() -> None:
    """Manage desks."""


@desk.command("add")
@instance_option
@click.argument("slug")
@click.option("--name", required=True, help="The desk's name as staff see it.")
@click.option("--retention-days", type=click.IntRange(min=1), default=None)
@click.option("--keeps-originals", is_flag=True, help="Keep untouched originals for custodians.")
def desk_add(
    instance_dir: Path | None,
    slug: str,
    name: str,
    retention_days: int | None,
    keeps_originals: bool,
) -> None:
    """Create a desk; its key is sealed to the recovery key and to every admin."""
    instance = _open(instance_dir)
    with transaction(instance.sessions) as session:
        admins = list(session.scalars(select(User).where(User.role == Role.ADMIN)))
        new_desk, _key = create_desk(
            session,
            slug=slug,
            name=name,
            recovery_public_key=instance.settings.recovery_public_key,
            members=[(admin, True) for admin in admins],
            keeps_originals=keeps_originals,
            retention_days=retention_days,
        )
        shown = format_fingerprint(fingerprint(new_desk.public_key))
        click.echo(
            f"desk {new_desk.slug} created, key {shown}; "
            f"sealed to the recovery key and {len(admins)} admin(s)"
        )
    instance.close()


@desk.command("list")
@instance_option
def desk_list(instance_dir: Path | None) -> None:
    """List desks and their members."""
    instance = _open(instance_dir)
    with instance.sessions() as session:
        for found in session.scalars(select(Desk).order_by(Desk.slug)):
            members = ", ".join(sorted(m.user.username for m in found.memberships)) or "-"
            click.echo(f"{found.slug}\t{found.name}\tmembers: {members}")
    instance.close()


@cli.group()
def user() -> None:
    """Manage staff accounts."""


@user.command("add")
@instance_option
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--desk", "desks", multiple=True, help="Give the user this desk (repeatable).")
@click.option("--can-export", is_flag=True, help="Let the user export dossiers from these desks.")
@click.option("--granted-by", default=None, help="A member of the desks who unlocks them.")
@click.option("--recovery", is_flag=True, help="Unlock the desks with the recovery key instead.")
def user_add(
    instance_dir: Path | None,
    username: str,
    role: str,
    desks: tuple[str, ...],
    can_export: bool,
    granted_by: str | None,
    recovery: bool,
) -> None:
    """Create a staff account, sealing the chosen desks' keys to it.

    The desks are unlocked by an existing member (--granted-by, whose password is asked) or
    by the recovery key (--recovery). The new account's password and TOTP secret are printed
    once, to hand over in person.
    """
    if desks and not (granted_by or recovery):
        raise click.UsageError("giving desks needs --granted-by USER or --recovery")
    instance = _open(instance_dir)
    with transaction(instance.sessions) as session:
        grants = []
        if desks:
            unlock = _desk_unlocker(session, granted_by=granted_by, recovery=recovery)
        for slug in desks:
            found = get_desk(session, slug)
            grants.append(DeskGrant(found, unlock(found), can_export))
        new = create_user(
            session,
            username=username,
            role=Role(role),
            password=generate_password(),
            grants=grants,
            signing_key=instance.keyring.signing_key(),
        )
    click.echo(f"user {username} ({role}) created" + (f" on {', '.join(desks)}" if desks else ""))
    click.echo(f"  password:    {new.password}\n  totp secret: {new.totp_secret}")
    instance.close()


def _desk_unlocker(
    session: Session, *, granted_by: str | None, recovery: bool
) -> Callable[[Desk], BoxKeyPair]:
    """How to open the desks being granted: the recovery key, or a member's password."""
    if recovery:
        recovery_key = parse_recovery_key(read_secret("Recovery key"))
        return lambda found: open_desk_key_with_recovery(found, recovery_key)
    if granted_by is None:
        raise click.UsageError("giving desks needs --granted-by USER or --recovery")
    granter = get_user(session, granted_by)
    granter_key = _unlock(granter, read_secret(f"Password of {granted_by}"))
    return lambda found: open_desk_key(session, desk=found, user=granter, user_key=granter_key)


@user.command("reset")
@instance_option
@click.argument("username")
@click.option(
    "--recovery-key-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Read the recovery key from this file instead of the terminal.",
)
def user_reset(instance_dir: Path | None, username: str, recovery_key_file: Path | None) -> None:
    """Give an account a new key, password and TOTP secret, with the recovery key.

    Every desk key the account had is opened with the recovery key (each desk's key is
    sealed to it) and sealed to the new user key; the account's sessions end. The new
    password and TOTP enrolment are printed once, to hand over in person.
    """
    from casework.accounts import reset_account  # noqa: PLC0415 - composition root

    if recovery_key_file is not None:
        text = recovery_key_file.read_text(encoding="utf-8", errors="replace")
    else:
        text = read_secret("Recovery key")
    recovery_key = parse_recovery_key(text)
    settings = _settings(instance_dir)
    if recovery_key.public != settings.recovery_public_key:
        raise click.ClickException("this is not the recovery key of this instance")
    instance = Instance.open(settings)
    try:
        with transaction(instance.sessions) as session:
            done = reset_account(
                session,
                username=username,
                actor="recovery-key",
                open_desk=lambda found: open_desk_key_with_recovery(found, recovery_key),
                signing_key=instance.keyring.signing_key(),
            )
    finally:
        instance.close()
    click.echo(f"user {username} reset; desks re-sealed: {', '.join(done.resealed) or '-'}")
    if done.lost:
        click.echo(f"  desks lost: {', '.join(done.lost)}")
    click.echo(f"  password:    {done.password}\n  totp secret: {done.totp_secret}")
    click.echo(f"  totp uri:    {totp_uri(username, done.totp_secret)}")


@user.command("set-email")
@instance_option
@click.argument("username")
@click.argument("address", required=False)
@click.option("--clear", is_flag=True, help="Remove the address: no more digest mails.")
def user_set_email(
    instance_dir: Path | None, username: str, address: str | None, clear: bool
) -> None:
    """Set the address a staff member's daily digest goes to."""
    from filon.digest import set_email  # noqa: PLC0415

    if clear == (address is not None):
        raise click.UsageError("give an ADDRESS, or --clear")
    instance = _open(instance_dir)
    try:
        with transaction(instance.sessions) as session:
            set_email(session, username=username, email=address)
    finally:
        instance.close()
    click.echo(f"user {username}: " + (f"digest goes to {address}" if address else "no address"))


@user.command("list")
@instance_option
def user_list(instance_dir: Path | None) -> None:
    """List staff accounts with their roles and desks."""
    instance = _open(instance_dir)
    with instance.sessions() as session:
        for found in session.scalars(select(User).order_by(User.username)):
            desks = ", ".join(sorted(m.desk.slug for m in found.memberships)) or "-"
            state = "" if found.active else " (disabled)"
            click.echo(f"{found.username}\t{found.role.value}{state}\tdesks: {desks}")
    instance.close()


def main() -> None:
    """Entry point: turn every known failure into one clear line and exit status 1."""
    # Files Filon makes (database, settings, blobs) are for this account alone.
    os.umask(0o077)
    try:
        status = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except WrongPassword:
        click.echo("Error: wrong password.", err=True)
        sys.exit(1)
    except (FilonError, CryptoFailure) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)
