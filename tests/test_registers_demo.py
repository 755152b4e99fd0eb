"""The demo's registers, the chain-links importer, and the vocabularies they share."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from casework.models import Actor, ActorKind, ChainLink, MineSite
from casework.registers import links
from casework.registers.demo import seed_registers
from casework.registers.minerals import MINERALS, label, normalise
from casework.risks import RISK_CATEGORIES, RISK_CATEGORIES_FR, RISKS, risk_label
from filon.instance import Instance


def downstream(session: Session, site: MineSite) -> set[tuple[ActorKind, str]]:
    """Every actor reachable from a site along chain links: (kind, external id)."""
    links_ = session.scalars(select(ChainLink)).all()
    queue = deque(link.to_actor_id for link in links_ if link.from_site_id == site.id)
    seen: set[int] = set()
    while queue:
        actor_id = queue.popleft()
        if actor_id in seen:
            continue
        seen.add(actor_id)
        queue.extend(link.to_actor_id for link in links_ if link.from_actor_id == actor_id)
    actors = session.scalars(select(Actor).where(Actor.id.in_(seen))).all()
    return {(a.kind, a.external_id or "") for a in actors}


def link_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(ChainLink)) or 0


def test_the_demo_registers_run_from_mines_to_brands(instance: Instance) -> None:
    reports, text = seed_registers(instance.sessions)
    assert "Mine sites: 30 synthetic sites with 60 visits" in text
    assert "OpenStreetMap-style mine sites: 9 from osm_sample.geojson" in text
    assert "Actors: 12 traders to brands from actors_sample.csv, 7 smelters and refiners" in text
    assert "Chain links: 20 from links_sample.csv" in text
    assert reports[-1].skipped == []
    with instance.sessions() as session:
        site = session.scalars(select(MineSite).where(MineSite.external_id == "SYN-0001")).one()
        reached = downstream(session, site)
    assert {
        (ActorKind.TRADER, "TRD-001"),
        (ActorKind.COMPTOIR, "CPT-001"),
        (ActorKind.EXPORTER, "EXP-001"),
        (ActorKind.SMELTER, "CID900001"),
        (ActorKind.COMPONENT_MAKER, "CMP-002"),
        (ActorKind.BRAND, "BRD-001"),
        (ActorKind.BRAND, "BRD-002"),
    } <= reached
    # Loading the samples again changes nothing.
    again, _ = seed_registers(instance.sessions)
    assert again[-1].unchanged("chain links") == 20
    assert again[-1].created("chain links") == 0
    assert link_count(instance.sessions) == 20


def test_malformed_chain_links_are_reported_by_line(instance: Instance, tmp_path: Path) -> None:
    seed_registers(instance.sessions)
    header = links.SAMPLE_LINKS_CSV.read_text(encoding="utf-8").splitlines()[0]
    rows = [
        "site,demo-ipis,SYN-0001,demo-actors,TRD-001,cassiterite,2016-01-01,2018-06-30",
        "mine,demo-ipis,SYN-0001,demo-actors,TRD-001,gold,,",
        "site,demo-ipis,SYN-9999,demo-actors,TRD-001,gold,,",
        "actor,demo-actors,TRD-001,demo-actors,TRD-001,gold,,",
        "actor,demo-actors,TRD-001,demo-actors,CPT-002,gold,2016-13-01,",
        "actor,demo-actors,TRD-001,demo-actors,CPT-002,gold,2017-01-01,2016-01-01",
        "actor,demo-actors,TRD-001,demo-actors,,gold,,",
        "actor,demo-actors,TRD-002,demo-actors,CPT-002,gold,2015-06-01,2016-12-31",
        "actor,demo-actors,TRD-002,demo-actors,CPT-002,gold,2015-06-01,2016-12-31",
        "actor,demo-actors,TRD-002,demo-actors,CPT-002,unobtainium,,",
    ]
    path = tmp_path / "links.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    report = links.import_file(instance.sessions, path)
    assert [(s.where, s.reason) for s in report.skipped] == [
        ("line 3", "from_type 'mine' is not site or actor"),
        ("line 4", "no site 'SYN-9999' in dataset 'demo-ipis'"),
        ("line 5", "a link from an actor to itself"),
        ("line 6", "period_start '2016-13-01' is not a date (YYYY-MM-DD)"),
        ("line 7", "period_end is before period_start"),
        ("line 8", "to_id is empty"),
        ("line 10", "the same link as line 9"),
    ]
    assert [(w.where, w.reason) for w in report.warnings] == [
        ("line 11", "mineral 'unobtainium' is not a known mineral")
    ]
    # Line 2 is a sample link with a new end date; line 9 is a sample link as it was.
    assert (report.created("chain links"), report.updated("chain links")) == (1, 1)
    assert report.unchanged("chain links") == 1
    assert link_count(instance.sessions) == 21


def test_import_links_dry_run_writes_nothing(instance: Instance) -> None:
    seed = seed_registers(instance.sessions)[0]
    assert seed[-1].created("chain links") == 20
    with instance.sessions() as session:
        session.execute(ChainLink.__table__.delete())
        session.commit()
    result = subprocess.run(
        [sys.executable, "-m", "filon", "import-links", "--instance"]
        + [str(instance.settings.instance_dir), str(links.SAMPLE_LINKS_CSV), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "chain links: 20 would be created" in result.stdout
    assert link_count(instance.sessions) == 0


def test_the_mineral_vocabulary_names_the_issue_minerals_in_english_and_french() -> None:
    expected = {
        "cassiterite": ("Cassiterite", "Cassitérite"),
        "coltan": ("Coltan", "Coltan"),
        "wolframite": ("Wolframite", "Wolframite"),
        "gold": ("Gold", "Or"),
        "cobalt": ("Cobalt", "Cobalt"),
        "copper": ("Copper", "Cuivre"),
        "diamond": ("Diamonds", "Diamants"),
    }
    for code, (english, french) in expected.items():
        assert (label(code), label(code, "fr")) == (english, french)
        assert normalise(english) == normalise(french) == code
    # The metals smelters and OSM name, and the EMRT's minerals.
    assert [normalise(m) for m in ("Tin", "Tantalum", "Tungsten", "wolfram")] == [
        "cassiterite",
        "coltan",
        "wolframite",
        "wolframite",
    ]
    assert {"nickel", "graphite", "mica", "lithium"} <= {m.code for m in MINERALS}
    assert label("unobtainium") == "unobtainium"


def test_every_annex_ii_risk_has_an_english_and_a_french_label() -> None:
    assert len(RISKS) == 10
    assert set(RISK_CATEGORIES) == set(RISK_CATEGORIES_FR)
    assert all(RISK_CATEGORIES[c] != RISK_CATEGORIES_FR[c] for c in RISK_CATEGORIES)
    assert risk_label("armed_groups") == "Direct or indirect support to non-state armed groups"
    assert risk_label("armed_groups", "fr").startswith("Soutien direct ou indirect")
    assert risk_label("money_laundering", "fr") == "Blanchiment d'argent"
    assert risk_label("nope", "fr") == "nope"


@pytest.mark.parametrize(
    "path", ["osm_sample.geojson", "actors_sample.csv", "smelters_sample.csv", "links_sample.csv"]
)
def test_the_samples_are_synthetic_and_say_so(path: str) -> None:
    sample = links.SAMPLE_LINKS_CSV.parent / path
    readme = (sample.parent / "README.md").read_text(encoding="utf-8")
    assert f"`{path}`" in readme
    if path.endswith(".geojson"):
        features = json.loads(sample.read_text(encoding="utf-8"))["features"]
        names = [n for f in features if (n := _name(f))]
        assert names
        assert all("(synthetic)" in n for n in names)
        return
    with sample.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if "name" in rows[0]:
        assert all("(synthetic)" in r["name"] for r in rows if r["name"])
    if "smelter_id" in rows[0]:
        assert all(r["smelter_id"].startswith("CID9") for r in rows)  # a range RMI has not used


def _name(feature: dict[str, Any]) -> str:
    properties = feature["properties"]
    return str(properties.get("name") or properties.get("tags", {}).get("name") or "")
