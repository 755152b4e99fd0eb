"""Issue 6's round trip: a case exported by Filon verifies with `filon verify` and with the
`verify.py` inside it (in a fresh virtual environment holding only PyNaCl), and any change —
one byte of any file, of the manifest or of the signature, a file added or removed — makes
both fail with the problem named.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from casework import cases, chains, geo, geodata
from casework.dossier.export import ExportOptions
from casework.models import Actor, ActorKind, ChainLink, MineSite
from crypto.keys import fingerprint, format_fingerprint
from filon.accounts import get_user, unlock_user_key
from filon.db import current_hour, transaction
from filon.instance import Instance
from filon.models import Evidence, Submission
from intake.demo import seed_submissions
from tests.conftest import STAFF_PASSWORD, DeskSetup
from tests.test_dossier_export import export, world  # noqa: F401 - world is a fixture
from tests.test_dossier_verify import (
    Members,
    both,
    bundled_verifier,
    flip,
    fresh_python,  # noqa: F401 - a fixture
    read_members,
    rewrite,
)


@pytest.fixture
def exported(instance: Instance, world: dict[str, object], tmp_path: Path) -> Path:  # noqa: F811
    path = tmp_path / "dossier.zip"
    path.write_bytes(export(instance, int(world["case"])))  # type: ignore[call-overload]
    return path


def test_an_exported_case_verifies_with_both_verifiers(
    exported: Path,
    instance: Instance,
    desk: DeskSetup,
    fresh_python: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    signer = fingerprint(instance.keyring.signing_key().public)
    verifier = bundled_verifier(exported, tmp_path / "reader")
    for args in ((), ("--fingerprint", signer), ("--fingerprint", format_fingerprint(signer))):
        for result in both(fresh_python, verifier, exported, *args):
            assert result.returncode == 0, result.stdout + result.stderr
            assert "is intact" in result.stdout


def every_change(members: Members) -> list[tuple[str, Callable[[Members], Members], str]]:
    """One byte of each file, the manifest and the signature; a file added; each removed."""
    changes: list[tuple[str, Callable[[Members], Members], str]] = []
    for name, data in members:
        at = min(10, len(data) - 1)
        changes.append((f"byte of {name}", lambda m, n=name, a=at: flip(m, n, at=a), name))
        if name not in ("manifest.json", "manifest.sig"):
            changes.append(
                (f"without {name}", lambda m, n=name: [(k, d) for k, d in m if k != n], name)
            )
    changes.append(("added", lambda m: [*m, ("evidence/planted.txt", b"x")], "planted.txt"))
    return changes


def test_any_change_to_an_exported_dossier_fails_both_with_the_problem_named(
    exported: Path,
    fresh_python: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    members = read_members(exported)
    assert len(members) >= 8  # evidence, data, report, verify.py, README, manifest and sig
    verifier = bundled_verifier(exported, tmp_path / "reader")
    for label, change, named in every_change(members):
        tampered = rewrite(exported, tmp_path / "tampered.zip", change)
        for result in both(fresh_python, verifier, tampered):
            assert result.returncode == 1, (label, result.stdout, result.stderr)
            # A changed manifest is named, or the signature it no longer matches.
            names = ("manifest.json", "manifest.sig") if named == "manifest.json" else (named,)
            assert any(f"{n}:" in result.stdout for n in names), (label, result.stdout)


# -- a case with places and supply chains (issue 5, item 6) ---------------------------------------

# The demo photo's consented GPS position: 1°40'12" S, 28°52'30" E (near Rubaya).
PHOTO = (-(1 + 40 / 60 + 12 / 3600), 28 + 52 / 60 + 30 / 3600)


@pytest.fixture
def placed(instance: Instance, world: dict[str, object]) -> dict[str, int]:  # noqa: F811
    """The world's case with a geotag from the photo, a site, a trader and a chain link."""
    refs: list[str] = world["refs"]  # type: ignore[assignment]
    with transaction(instance.sessions) as session:
        user = get_user(session, "investigator")
        geotag = geo.geotag_from_file(
            session,
            user=user,
            user_key=unlock_user_key(user, STAFF_PASSWORD),
            reference=refs[0],
            number=1,
            case_id=int(world["case"]),  # type: ignore[call-overload]
        )
        site = MineSite(
            dataset="ipis",
            external_id="codmin-1",
            name="Rubaya D2",
            latitude=-1.6,
            longitude=28.9,
            minerals=["coltan"],
            updated_hour=current_hour(),
        )
        trader = Actor(kind=ActorKind.TRADER, name="=Maison Tantale", updated_hour=current_hour())
        elsewhere = Actor(kind=ActorKind.EXPORTER, name="Unlinked", updated_hour=current_hour())
        session.add_all([site, trader, elsewhere])
        session.flush()
        # A shared link from the same site that no file of the case supports: not in the dossier.
        session.add(
            ChainLink(
                from_site_id=site.id,
                to_actor_id=elsewhere.id,
                mineral="coltan",
                created_hour=current_hour(),
            )
        )
        link = chains.create_chain_link(
            session,
            user=user,
            slug="drc-minerals",
            request=chains.ChainLinkRequest(
                from_site_id=site.id,
                to_actor_id=trader.id,
                mineral="coltan",
                period_start=dt.date(2024, 1, 1),
                period_end=dt.date(2024, 6, 30),
                reference=refs[0],
                numbers=[1],
            ),
        )
        return {"geotag": geotag.id, "site": site.id, "trader": trader.id, "link": link.id}


def test_a_case_with_places_and_chain_links_exports_them_and_still_verifies(
    instance: Instance,
    world: dict[str, object],  # noqa: F811
    placed: dict[str, int],
    fresh_python: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "dossier.zip"
    case_id = int(world["case"])  # type: ignore[call-overload]
    path.write_bytes(export(instance, case_id, ExportOptions(location_precision=2)))
    verifier = bundled_verifier(path, tmp_path / "reader")
    for result in both(fresh_python, verifier, path):
        assert result.returncode == 0, result.stdout + result.stderr
    archive = zipfile.ZipFile(path)
    manifest = json.loads(archive.read("manifest.json"))
    [site] = manifest["mine_sites"]
    assert (site["id"], site["name"], site["latitude"], site["longitude"]) == (
        placed["site"],
        "Rubaya D2",
        -1.6,
        28.9,
    )
    assert [(a["id"], a["name"], a["kind"]) for a in manifest["actors"]] == [
        (placed["trader"], "=Maison Tantale", "trader")
    ]
    [link] = manifest["chain_links"]
    assert link == {
        "id": placed["link"],
        "from_kind": "site",
        "from_id": placed["site"],
        "from_name": "Rubaya D2",
        "to_id": placed["trader"],
        "to_name": "=Maison Tantale",
        "mineral": "coltan",
        "period_start": "2024-01-01",
        "period_end": "2024-06-30",
        "shared": False,
        "evidence": ["evidence/01-IMG_0042.jpg"],  # the path in this dossier
    }
    [geotag] = manifest["geotags"]
    assert (geotag["id"], geotag["case"], geotag["method"]) == (
        placed["geotag"],
        case_id,
        "consented",
    )
    # Rounded to the two decimal places asked for, its precision widened to match (~787 m).
    assert (geotag["latitude"], geotag["longitude"]) == (round(PHOTO[0], 2), round(PHOTO[1], 2))
    assert geotag["precision_m"] == geodata.rounding_error_m(2) > 700
    # data/ holds the same, as GeoJSON and CSV (the CSV's formula-like name made text).
    sites = json.loads(archive.read("data/sites.geojson"))
    assert [f["properties"]["id"] for f in sites["features"]] == [placed["site"]]
    geotags = json.loads(archive.read("data/geotags.geojson"))
    assert geotags["features"][0]["geometry"]["coordinates"] == [
        round(PHOTO[1], 2),
        round(PHOTO[0], 2),
    ]
    rows = list(csv.DictReader(io.StringIO(archive.read("data/chain_links.csv").decode())))
    assert [(r["id"], r["to_name"], r["evidence"]) for r in rows] == [
        (str(placed["link"]), "'=Maison Tantale", "evidence/01-IMG_0042.jpg")
    ]
    # The report names the chain link, its period and its evidence.
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(archive.read("report.pdf"))
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode("utf-8")
    flat = " ".join(text.split())
    assert "Rubaya D2 → =Maison Tantale" in flat
    assert "coltan, 2024-01-01 to 2024-06-30" in flat
    assert "Evidence: evidence/01-IMG_0042.jpg" in flat
    assert "None recorded yet" not in flat
    assert "Unlinked" not in flat


def test_a_dossier_without_locations_holds_no_geotag_and_without_the_file_no_link(
    instance: Instance,
    world: dict[str, object],  # noqa: F811
    placed: dict[str, int],
) -> None:
    case_id = int(world["case"])  # type: ignore[call-overload]
    data = export(instance, case_id, ExportOptions(location_precision=None))
    archive = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["geotags"] == []
    assert json.loads(archive.read("data/geotags.geojson"))["features"] == []
    assert [link["id"] for link in manifest["chain_links"]] == [placed["link"]]
    assert str(round(PHOTO[0], 3)) not in archive.read("manifest.json").decode()


def test_a_file_left_out_of_the_dossier_takes_its_geotag_and_its_links_with_it(
    instance: Instance,
    world: dict[str, object],  # noqa: F811
    placed: dict[str, int],
) -> None:
    case_id = int(world["case"])  # type: ignore[call-overload]
    refs: list[str] = world["refs"]  # type: ignore[assignment]
    second = seed_submissions(instance, "drc-minerals")[0].receipt  # another photo
    with transaction(instance.sessions) as session:
        user = get_user(session, "investigator")
        cases.link_evidence(
            session, user=user, case_id=case_id, reference=second, number=1, comment=""
        )
        other = geo.geotag_from_file(
            session,
            user=user,
            user_key=unlock_user_key(user, STAFF_PASSWORD),
            reference=second,
            number=1,
            case_id=case_id,
        )
        first = session.scalars(
            select(Evidence.id)
            .join(Submission, Submission.id == Evidence.submission_id)
            .where(Submission.reference == refs[0])
        ).one()
        other_id = other.id
    both_files = json.loads(
        zipfile.ZipFile(io.BytesIO(export(instance, case_id))).read("manifest.json")
    )
    assert sorted(g["id"] for g in both_files["geotags"]) == [placed["geotag"], other_id]
    # Only the second photo: the first one's geotag and the link it supports stay out.
    only = ExportOptions(evidence=frozenset(set(known_files(instance, case_id)) - {first}))
    manifest = json.loads(
        zipfile.ZipFile(io.BytesIO(export(instance, case_id, only))).read("manifest.json")
    )
    assert [g["id"] for g in manifest["geotags"]] == [other_id]
    assert manifest["chain_links"] == []


def known_files(instance: Instance, case_id: int) -> list[int]:
    with instance.sessions() as session:
        return geodata.case_evidence_ids(session, case_id)
