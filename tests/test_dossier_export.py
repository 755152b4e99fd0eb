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
from nacl.signing import VerifyKey
from sqlalchemy import select, update

from casework import cases, reading
from casework.dossier.export import (
    EXPORTED,
    ExportNotAllowed,
    ExportOptions,
    NotCleanedRefused,
    export_case,
    plaintext_size,
)
from crypto.keys import fingerprint, format_fingerprint
from crypto.stream import stream_size
from filon.accounts import get_user, unlock_user_key
from filon.db import transaction
from filon.errors import NotFound
from filon.instance import Instance
from filon.models import CleaningStatus, CustodyEvent, DeskMembership, Evidence
from intake.demo import SAMPLES, seed_submissions
from intake.ports import casework_ports
from tests.conftest import STAFF_PASSWORD, DeskSetup, make_account

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
    instance: Instance, case_id: int, options: ExportOptions | None = None, *, ports: bool = True
) -> bytes:
    with instance.sessions() as session:
        user = get_user(session, "investigator")
    out = io.BytesIO()
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
        assert set(entry) == {"path", "sha256", "size", "cleaned", "original_sha256", "custody"}
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
    assert [f["path"] for f in details["files"]] == ["evidence/01-IMG_0042.jpg"]
    assert event.actor == "user:investigator"


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 5])
def test_plaintext_size_inverts_the_stream_format(size: int) -> None:
    assert plaintext_size(stream_size(size)) == size
