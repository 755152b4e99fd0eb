"""Exporting a case as a ``filon-dossier/1`` ZIP (DESIGN.md §8), checked with nacl and zipfile.

The checks here read the ZIP and the signature directly, not through the dossier's own
verifier: an exporter and a verifier that agreed on a mistake would both pass.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from nacl.signing import VerifyKey
from sqlalchemy import delete, select, update
from werkzeug.test import TestResponse

import filon
from casework import cases, reading
from casework.dossier.export import (
    EXPORTED,
    DossierCorrupt,
    ExportNotAllowed,
    ExportOptions,
    NotCleanedRefused,
    export_case,
    plaintext_size,
)
from casework.models import TotpStep
from crypto.keys import fingerprint, format_fingerprint
from crypto.sealing import open_sealed, seal
from crypto.stream import stream_size
from filon.accounts import get_user, open_desk_key, unlock_user_key
from filon.cli import cli
from filon.db import transaction
from filon.desks import get_desk
from filon.errors import NotFound
from filon.instance import Instance
from filon.models import CleaningStatus, CustodyEvent, DeskMembership, Evidence, Submission
from intake.demo import SAMPLES, seed_submissions
from intake.ports import casework_ports
from tests.conftest import (
    STAFF_PASSWORD,
    DeskSetup,
    Staff,
    csrf_token,
    make_account,
    totp_code,
)

DESK = "drc-minerals"
TITLE = "Taxes illégales à Rubaya: wachimbaji wadogo na ŋombe (Kivu-Noord)"
REPORT = SAMPLES[0].answers["report"]
PLACE = SAMPLES[0].answers["place"]
CONTROL = {"manifest.json", "manifest.sig"}


@pytest.fixture
def world(instance: Instance, desk: DeskSetup) -> dict[str, object]:
    """The demo's submissions, a case made of both, the investigator allowed to export."""
    outcomes = seed_submissions(instance, DESK)
    with transaction(instance.sessions) as session:
        user = get_user(session, desk.username)
        case = cases.create_case(
            session, user=user, references=[o.receipt for o in outcomes], title=TITLE
        )
        cases.update_case(
            session,
            user=user,
            case_id=case.id,
            title=TITLE,
            priority=case.priority,
            assignee=desk.username,
            summary="Des barrières; vizuizi barabarani.",
            minerals=["cassiterite", "coltan"],
            risk_categories=["armed_groups", "taxes"],
            tags=["rubaya"],
        )
        allow_export(session, desk.username, True)
        case_id = case.id
    return {"case": case_id, "refs": [o.receipt for o in outcomes]}


def allow_export(session: object, username: str, allowed: bool) -> None:
    user = get_user(session, username)  # type: ignore[arg-type]
    session.execute(  # type: ignore[attr-defined]
        update(DeskMembership).where(DeskMembership.user_id == user.id).values(can_export=allowed)
    )


def export(
    instance: Instance,
    case_id: int,
    options: ExportOptions | None = None,
    *,
    ports: bool = True,
    out: io.BytesIO | None = None,
) -> bytes:
    with instance.sessions() as session:
        user = get_user(session, "investigator")
    out = out if out is not None else io.BytesIO()
    export_case(
        instance.sessions,
        out,
        store=instance.store,
        signing_key=instance.keyring.signing_key(),
        user=user,
        user_key=unlock_user_key(user, STAFF_PASSWORD),
        case_id=case_id,
        options=options or ExportOptions(),
        ports=casework_ports() if ports else None,
    )
    return out.getvalue()


def check_dossier(data: bytes, instance: Instance) -> dict[str, object]:
    """The ZIP holds exactly what its signed manifest lists, with those hashes and sizes."""
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    manifest_bytes = archive.read("manifest.json")
    signature = base64.b64decode(archive.read("manifest.sig"), validate=True)
    public = instance.keyring.signing_key().public
    VerifyKey(public).verify(manifest_bytes, signature)  # raises if it does not hold
    manifest = json.loads(manifest_bytes)
    assert manifest["format"] == "filon-dossier/1"
    assert base64.b64decode(manifest["signing_key"]) == public
    assert manifest["signing_key_fingerprint"] == fingerprint(public)
    for name in ("mine_sites", "actors", "chain_links", "geotags"):
        assert manifest[name] == []
    listed = {f["path"]: f for f in manifest["files"]}
    assert len(listed) == len(manifest["files"])
    assert set(archive.namelist()) == set(listed) | CONTROL
    for path, entry in listed.items():
        body = archive.read(path)
        assert (hashlib.sha256(body).hexdigest(), len(body)) == (entry["sha256"], entry["size"])
        fields = {"path", "sha256", "size"}
        if path.startswith("evidence/"):  # only evidence was received, cleaned and kept
            fields |= {"cleaned", "original_sha256", "custody"}
        assert set(entry) == fields
    for path in ("report.pdf", "verify.py", "README.txt", "data/sites.geojson"):
        assert path in listed
    return manifest


def pdf_text(data: bytes, tmp_path: Path) -> str:
    archive = zipfile.ZipFile(io.BytesIO(data))
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(archive.read("report.pdf"))
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    )
    return result.stdout.decode("utf-8")


def test_a_case_exports_as_a_signed_dossier_holding_exactly_what_it_lists(
    instance: Instance, world: dict[str, object], tmp_path: Path
) -> None:
    data = export(instance, int(world["case"]))  # type: ignore[call-overload]
    manifest = check_dossier(data, instance)
    case = manifest["case"]
    assert (case["title"], case["risk_categories"]) == (TITLE, ["armed_groups", "taxes"])  # type: ignore[index]
    evidence = [f for f in manifest["files"] if f["path"].startswith("evidence/")]  # type: ignore[attr-defined]
    assert [f["path"] for f in evidence] == ["evidence/01-IMG_0042.jpg"]
    photo = evidence[0]
    assert photo["cleaned"] is True
    assert photo["original_sha256"] != photo["sha256"]  # cleaning changed the bytes
    actions = [e["action"] for e in photo["custody"]]
    assert actions == ["received", "verified", "cleaned", "sealed"]
    # The evidence is the cleaned file, byte for byte as the casework's download gives it.
    refs: list[str] = world["refs"]  # type: ignore[assignment]
    with transaction(instance.sessions) as session:
        user = get_user(session, "investigator")
        prepared = reading.prepare_download(
            session,
            reference=refs[0],
            number=1,
            user=user,
            user_key=unlock_user_key(user, STAFF_PASSWORD),
        )
    downloaded = b"".join(reading.stream_download(instance.store, prepared))
    body = zipfile.ZipFile(io.BytesIO(data)).read("evidence/01-IMG_0042.jpg")
    assert body == downloaded
    assert b"ExampleCam" not in body
    readme = zipfile.ZipFile(io.BytesIO(data)).read("README.txt").decode()
    fp = fingerprint(instance.keyring.signing_key().public)
    assert format_fingerprint(fp) in readme
    assert f"python verify.py dossier.zip --fingerprint {fp}" in readme
    assert "filon verify" in readme
    # verify.py is the source of filon/dossier_verify.py, byte for byte.
    bundled = zipfile.ZipFile(io.BytesIO(data)).read("verify.py")
    assert bundled == (Path(filon.__file__).parent / "dossier_verify.py").read_bytes()


def test_the_report_renders_and_holds_title_hashes_answers_and_risks(
    instance: Instance, world: dict[str, object], tmp_path: Path
) -> None:
    data = export(instance, int(world["case"]))  # type: ignore[call-overload]
    manifest = check_dossier(data, instance)
    text = pdf_text(data, tmp_path)
    flat = " ".join(text.split())
    assert TITLE in flat  # French, Swahili and Dutch letters come through
    for entry in manifest["files"]:  # type: ignore[attr-defined]
        if entry["path"].startswith("evidence/"):
            assert entry["sha256"] in flat
    assert "Direct or indirect support to non-state armed groups" in flat
    assert " ".join(REPORT.split()) in flat
    assert "None recorded yet" in flat
    pages = (tmp_path / "pages").mkdir() or tmp_path / "pages"
    (tmp_path / "report.pdf").write_bytes(zipfile.ZipFile(io.BytesIO(data)).read("report.pdf"))
    subprocess.run(
        ["pdftoppm", "-r", "30", "-png", str(tmp_path / "report.pdf"), str(pages / "p")],
        check=True,
        capture_output=True,
    )
    info = subprocess.run(
        ["pdfinfo", str(tmp_path / "report.pdf")], check=True, capture_output=True, text=True
    ).stdout
    count = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    assert count >= 1
    assert len(list(pages.glob("p-*.png"))) == count


def test_redacted_fields_and_left_out_locations_are_not_in_the_report(
    instance: Instance, world: dict[str, object], tmp_path: Path
) -> None:
    options = ExportOptions(redact=frozenset({"report"}), location_precision=None)
    data = export(instance, int(world["case"]), options)  # type: ignore[call-overload]
    check_dossier(data, instance)
    flat = " ".join(pdf_text(data, tmp_path).split())
    assert "report: [redacted]" in flat
    assert "Des hommes armés" not in flat
    assert PLACE in flat  # only the chosen field is redacted
    assert "left out of this dossier" in flat
    assert "-1.67" not in flat
    assert "28.87" not in flat
    # Answers never reach the manifest, redacted or not.
    manifest = zipfile.ZipFile(io.BytesIO(data)).read("manifest.json").decode()
    assert PLACE not in manifest
    assert "[redacted]" not in manifest


def test_consented_locations_are_coarsened_and_answers_can_be_left_out(
    instance: Instance, world: dict[str, object], tmp_path: Path
) -> None:
    options = ExportOptions(include_answers=False, location_precision=1)
    data = export(instance, int(world["case"]), options)  # type: ignore[call-overload]
    flat = " ".join(pdf_text(data, tmp_path).split())
    assert "-1.7, 28.9" in flat  # 1°40'12" S, 28°52'30" E at one decimal place
    assert "-1.67" not in flat
    assert PLACE not in flat
    assert "Left out of this dossier" in flat


def test_not_cleaned_files_need_an_explicit_confirmation(
    instance: Instance, world: dict[str, object]
) -> None:
    with transaction(instance.sessions) as session:
        session.execute(update(Evidence).values(cleaning_status=CleaningStatus.NOT_CLEANED))
    with pytest.raises(NotCleanedRefused, match="IMG_0042.jpg"):
        export(instance, int(world["case"]))  # type: ignore[call-overload]
    data = export(instance, int(world["case"]), ExportOptions(include_not_cleaned=True))  # type: ignore[call-overload]
    manifest = check_dossier(data, instance)
    evidence = [f for f in manifest["files"] if f["path"].startswith("evidence/")]  # type: ignore[attr-defined]
    assert evidence[0]["cleaned"] is False


def test_only_members_allowed_to_export_may(instance: Instance, world: dict[str, object]) -> None:
    with transaction(instance.sessions) as session:
        allow_export(session, "investigator", False)
    with pytest.raises(ExportNotAllowed):
        export(instance, int(world["case"]))  # type: ignore[call-overload]
    make_account(instance, "outsider", "investigator")
    with instance.sessions() as session:
        outsider = get_user(session, "outsider")
    with pytest.raises(NotFound):
        export_case(
            instance.sessions,
            io.BytesIO(),
            store=instance.store,
            signing_key=instance.keyring.signing_key(),
            user=outsider,
            user_key=unlock_user_key(outsider, STAFF_PASSWORD),
            case_id=int(world["case"]),  # type: ignore[call-overload]
            options=ExportOptions(),
        )


def test_each_export_is_audited_with_the_manifests_hash(
    instance: Instance, world: dict[str, object]
) -> None:
    data = export(instance, int(world["case"]), ports=False)  # type: ignore[call-overload]
    manifest = zipfile.ZipFile(io.BytesIO(data)).read("manifest.json")
    with instance.sessions() as session:
        event = session.scalars(select(CustodyEvent).where(CustodyEvent.action == EXPORTED)).one()
    details = json.loads(event.details)
    assert details["case"] == world["case"]
    assert details["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert details["files"] == [{"submission": world["refs"][0], "file": 1}]  # type: ignore[index]
    assert "IMG_0042" not in event.details  # the source's file name stays sealed
    assert event.actor == "user:investigator"


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 5])
def test_plaintext_size_inverts_the_stream_format(size: int) -> None:
    assert plaintext_size(stream_size(size)) == size


# -- the routes -----------------------------------------------------------------------------------


def export_path(world: dict[str, object]) -> str:
    return f"/cases/{world['case']}/export"


def stepped_up(instance: Instance, person: Staff, *, log_in: bool = True) -> None:
    """Sign in, then step up (after forgetting the code that signed the person in)."""
    if log_in:
        assert person.log_in().status_code == 303
    with transaction(instance.sessions) as session:
        session.execute(delete(TotpStep))  # only tests ever let a code be used twice
    response = person.client.post(
        "/step-up",
        data={
            "csrf_token": csrf_token(person.client, "/step-up"),
            "password": person.account.password,
            "code": totp_code(person.account.totp_secret),
            "next": "/",
        },
    )
    assert response.status_code == 303


def post_export(person: Staff, world: dict[str, object], **data: object) -> TestResponse:
    token = csrf_token(person.client)  # one token per browser serves every form
    return person.client.post(export_path(world), data={"csrf_token": token, **data})


def evidence_ids(instance: Instance) -> list[int]:
    with instance.sessions() as session:
        return list(session.scalars(select(Evidence.id).order_by(Evidence.id)))


def test_the_export_form_then_a_step_up_then_the_zip_streams_audited(
    instance: Instance, world: dict[str, object], staff: Staff
) -> None:
    assert staff.log_in().status_code == 303
    page = staff.client.get(export_path(world))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    [file_id] = evidence_ids(instance)
    assert f'name="evidence" value="{file_id}"' in text
    assert "Export dossier" in text
    # Carrying a case away asks for the password and a fresh code first.
    refused = post_export(staff, world, evidence=str(file_id), location_precision="2")
    assert refused.status_code == 303
    assert refused.headers["Location"] == f"/step-up?next={export_path(world)}"
    stepped_up(instance, staff, log_in=False)
    response = post_export(
        staff, world, evidence=str(file_id), location_precision="2", include_answers="y"
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f"attachment; filename=case-{world['case']}-dossier.zip"
    body = response.get_data()
    assert int(response.headers["Content-Length"]) == len(body)
    manifest = check_dossier(body, instance)
    with instance.sessions() as session:
        event = session.scalars(select(CustodyEvent).where(CustodyEvent.action == EXPORTED)).one()
    details = json.loads(event.details)
    manifest_bytes = zipfile.ZipFile(io.BytesIO(body)).read("manifest.json")
    assert details["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    assert manifest["exported_by"] == "investigator"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"location_precision": "2"}, "choose at least one evidence file"),
        ({"evidence": "999999", "location_precision": "2"}, "files not linked to this case"),
        ({"evidence": "x", "location_precision": "2"}, None),
        ({"evidence": "{file}", "location_precision": "9"}, None),
    ],
)
def test_bad_export_choices_are_a_clear_400_and_export_nothing(
    instance: Instance,
    world: dict[str, object],
    staff: Staff,
    data: dict[str, str],
    message: str | None,
) -> None:
    stepped_up(instance, staff)
    [file_id] = evidence_ids(instance)
    filled = {k: v.format(file=file_id) for k, v in data.items()}
    response = post_export(staff, world, **filled)
    assert response.status_code == 400
    if message is not None:
        assert message in response.get_data(as_text=True)
    with instance.sessions() as session:
        assert (
            session.scalars(select(CustodyEvent).where(CustodyEvent.action == EXPORTED)).all() == []
        )


def test_a_not_cleaned_file_is_refused_by_name_until_confirmed(
    instance: Instance, world: dict[str, object], staff: Staff
) -> None:
    with transaction(instance.sessions) as session:
        session.execute(update(Evidence).values(cleaning_status=CleaningStatus.NOT_CLEANED))
    stepped_up(instance, staff)
    [file_id] = evidence_ids(instance)
    page = staff.client.get(export_path(world)).get_data(as_text=True)
    assert "not cleaned" in page
    refused = post_export(staff, world, evidence=str(file_id), location_precision="2")
    assert refused.status_code == 400
    assert "IMG_0042.jpg" in refused.get_data(as_text=True)
    confirmed = post_export(
        staff, world, evidence=str(file_id), location_precision="2", include_not_cleaned="y"
    )
    assert confirmed.status_code == 200
    check_dossier(confirmed.get_data(), instance)


def test_members_without_can_export_and_non_members_are_refused(
    instance: Instance, world: dict[str, object], casework_app: Flask, staff: Staff
) -> None:
    with transaction(instance.sessions) as session:
        allow_export(session, "investigator", False)
    stepped_up(instance, staff)  # even stepped up
    assert staff.client.get(export_path(world)).status_code == 403
    [file_id] = evidence_ids(instance)
    assert post_export(staff, world, evidence=str(file_id)).status_code == 403
    outsider = Staff(casework_app.test_client(), make_account(instance, "outsider", "admin"))
    stepped_up(instance, outsider)
    assert outsider.client.get(export_path(world)).status_code == 404
    with instance.sessions() as session:
        assert (
            session.scalars(select(CustodyEvent).where(CustodyEvent.action == EXPORTED)).all() == []
        )


# -- the command line -----------------------------------------------------------------------------


def test_filon_export_writes_a_dossier_and_audits_it(
    instance: Instance, world: dict[str, object], tmp_path: Path
) -> None:
    out = tmp_path / "dossier.zip"
    args = ["export", str(world["case"]), "--user", "investigator", "--out", str(out)]
    args += ["--instance", str(instance.settings.instance_dir), "--redact", "place"]
    result = CliRunner().invoke(cli, args, input=STAFF_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    check_dossier(data, instance)
    manifest = zipfile.ZipFile(io.BytesIO(data)).read("manifest.json")
    assert hashlib.sha256(manifest).hexdigest() in result.output
    flat = " ".join(pdf_text(data, tmp_path).split())
    assert "place: [redacted]" in flat
    assert PLACE not in flat
    with instance.sessions() as session:
        assert (
            len(session.scalars(select(CustodyEvent).where(CustodyEvent.action == EXPORTED)).all())
            == 1
        )
    # A refused export leaves no file behind, and says why.
    again = tmp_path / "refused.zip"
    with transaction(instance.sessions) as session:
        allow_export(session, "investigator", False)
    args[args.index(str(out))] = str(again)
    refused = CliRunner().invoke(cli, args, input=STAFF_PASSWORD + "\n")
    assert refused.exit_code != 0
    assert isinstance(refused.exception, ExportNotAllowed)
    assert not again.exists()


def test_a_file_that_differs_from_its_record_stops_the_stream_before_the_zip_is_whole(
    instance: Instance, world: dict[str, object]
) -> None:
    refs: list[str] = world["refs"]  # type: ignore[assignment]
    with transaction(instance.sessions) as session:
        user = get_user(session, "investigator")
        desk = get_desk(session, DESK)
        desk_key = open_desk_key(
            session, desk=desk, user=user, user_key=unlock_user_key(user, STAFF_PASSWORD)
        )
        submission = session.scalars(
            select(Submission).where(Submission.reference == refs[0])
        ).one()
        document = json.loads(open_sealed(submission.sealed_metadata, desk_key))
        document["files"][0]["cleaned_sha256"] = "0" * 64
        submission.sealed_metadata = seal(json.dumps(document).encode(), desk.public_key)
    out = io.BytesIO()
    with pytest.raises(DossierCorrupt, match="IMG_0042.jpg"):
        export(instance, int(world["case"]), ports=False, out=out)  # type: ignore[call-overload]
    assert out.getvalue()  # the file's bytes went out ...
    with pytest.raises(zipfile.BadZipFile):  # ... but the ZIP never got its directory
        zipfile.ZipFile(io.BytesIO(out.getvalue()))


@pytest.mark.parametrize(("ports", "images"), [(True, 1), (False, 0)])
def test_pictures_get_a_thumbnail_drawn_by_the_sandbox_and_none_without_its_port(
    instance: Instance, world: dict[str, object], tmp_path: Path, ports: bool, images: int
) -> None:
    data = export(instance, int(world["case"]), ports=ports)  # type: ignore[call-overload]
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(zipfile.ZipFile(io.BytesIO(data)).read("report.pdf"))
    listing = subprocess.run(
        ["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True
    ).stdout
    assert len(listing.strip().splitlines()[2:]) == images  # two header lines, then one a picture
