"""Benchmark the nearest-site query with 100,000 mine sites, on SQLite and PostgreSQL.

Builds the schema with the real migrations (so the real ``mine_sites`` indexes) in a fresh
database per kind (SQLite in a file; PostgreSQL in a throwaway cluster started as the test
suite starts one), fills it with :func:`make_sites` (dense in eastern DR Congo, around
the mining districts, sparser over the rest of Africa and thinly over the world), runs
ANALYZE, then times :func:`casework.geo.nearest_sites` (radius 25 km, 10 sites) at ``RUNS``
random points, median of each set:

- ``nearest_ms``: points in eastern DR Congo's mining districts, the dense worst case;
- ``nearest_any_ms``: points anywhere on land or sea, most with few sites near;
- ``nearest_session_ms``: the dense points again, each in a session of its own (connection
  checkout, PostgreSQL's pre-ping and the rollback included), as a one-geotag page pays.

``nearest_ms`` and ``nearest_any_ms`` run in one session held open, as the submission page
runs one query per geotag; nothing loaded by one query is reused by the next.

``candidates`` is the median number of sites in a dense query's full 25 km box (what a
single box would read; the stepped search reads far fewer). ``EXPLAIN=1`` prints the box's
query plan.
Target: every median ≤ 5 ms.

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/sites_100k.py [--databases sqlite,postgresql]``.
Ends with one line of ``key=value`` figures. :func:`make_sites` is shared with the map's
benchmark.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import casework.models  # noqa: E402, F401 - the casework's tables
from bench.databases import check, main_over_databases  # noqa: E402
from casework.geo import bounding_box, nearest_sites  # noqa: E402
from casework.models import MineSite  # noqa: E402
from filon import schema  # noqa: E402
from filon.db import Base, make_engine  # noqa: E402
from tests import postgres  # noqa: E402

SITES = 100_000
RUNS = int(os.environ.get("RUNS", "50"))
BATCH = 5_000
HOUR = dt.datetime(2026, 11, 22, 10)
MINERALS = ["gold", "cassiterite", "coltan", "wolframite", "cobalt", "copper", "diamonds"]
# Mining districts of eastern DR Congo (approximate centres) and how spread out each is, in
# degrees: most synthetic sites fall around one of these, as artisanal sites do.
DISTRICTS = [
    ("Rubaya", -1.56, 28.88, 0.15),
    ("Walikale", -1.42, 28.05, 0.35),
    ("Bisie", -1.00, 27.90, 0.25),
    ("Kalehe", -2.10, 28.90, 0.20),
    ("Shabunda", -2.70, 27.30, 0.45),
    ("Kamituga", -3.06, 28.18, 0.25),
    ("Lugushwa", -3.30, 27.90, 0.20),
    ("Misisi", -4.40, 28.70, 0.30),
    ("Punia", -1.47, 26.45, 0.40),
    ("Mambasa", 1.36, 29.05, 0.40),
    ("Mongbwalu", 1.95, 30.03, 0.25),
    ("Watsa", 3.04, 29.54, 0.30),
    ("Manono", -7.30, 27.40, 0.35),
    ("Kolwezi", -10.72, 25.47, 0.30),
]
# Eastern DR Congo as a box (south, north, west, east), for the sites between districts.
EAST_DRC = (-12.0, 4.0, 25.0, 30.8)
AFRICA = (-34.0, 15.0, -17.0, 50.0)


def synthetic_position(rng: random.Random) -> tuple[float, float, str]:
    """One site's position and province: 75% in a district, 10% between, 15% elsewhere."""
    roll = rng.random()
    if roll < 0.75:
        name, lat, lon, spread = rng.choice(DISTRICTS)
        return rng.gauss(lat, spread), rng.gauss(lon, spread), name
    if roll < 0.85:
        south, north, west, east = EAST_DRC
        return rng.uniform(south, north), rng.uniform(west, east), "East DRC"
    if roll < 0.97:
        south, north, west, east = AFRICA
        return rng.uniform(south, north), rng.uniform(west, east), "Africa"
    lat = max(-89.99, min(89.99, rng.uniform(-60, 72)))
    return lat, rng.uniform(-180, 180), "World"


def make_sites(engine: Engine, n: int, seed: int) -> int:
    """Bulk-insert ``n`` synthetic mine sites (dataset ``synthetic``); returns how many."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    table = Base.metadata.tables["mine_sites"]
    rows: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for number in range(n):
            lat, lon, province = synthetic_position(rng)
            rows.append(
                {
                    "dataset": "synthetic",
                    "external_id": f"SYN-{seed}-{number:07d}",
                    "name": f"{province} site {number}",
                    "latitude": max(-90.0, min(90.0, lat)),
                    "longitude": (lon + 180.0) % 360.0 - 180.0,
                    "province": province,
                    "territoire": "",
                    "village": "",
                    "minerals": rng.sample(MINERALS, rng.randint(1, 2)),
                    "last_visit_date": dt.date(2015, 1, 1) + dt.timedelta(rng.randint(0, 3650)),
                    "workers": rng.randint(5, 2_000),
                    "armed_presence": rng.choice([True, False, False, None]),
                    "itsci": "",
                    "qualification": "",
                    "source": "bench/sites_100k.py (synthetic)",
                    "updated_hour": HOUR,
                }
            )
            if len(rows) == BATCH:
                connection.execute(table.insert(), rows)
                rows = []
        if rows:
            connection.execute(table.insert(), rows)
        # What PostgreSQL's autovacuum does soon after a bulk load; SQLite's planner has no
        # statistics until ANALYZE, so the figures are for a database that has been analysed.
        connection.execute(text("ANALYZE"))
    if engine.dialect.name == "postgresql":
        # VACUUM (outside a transaction) sets the visibility map: index-only scans need it,
        # and autovacuum does the same on a live server soon after a bulk load.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE mine_sites"))
    return n


def median_ms(
    run: Callable[[tuple[float, float]], object], points: list[tuple[float, float]]
) -> float:
    run(points[0])  # warm caches and the connection pool
    times = []
    for point in points:
        started = time.perf_counter()
        run(point)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 2)


def measure(engine: Engine) -> dict[str, float]:
    rng = random.Random(7)  # noqa: S311 - reproducible query points
    dense = []
    for _ in range(RUNS):
        _, lat, lon, spread = rng.choice(DISTRICTS)
        dense.append((rng.gauss(lat, spread), rng.gauss(lon, spread)))
    anywhere = [(rng.uniform(-60, 72), rng.uniform(-180, 180)) for _ in range(RUNS)]
    found: list[int] = []
    held = Session(engine)

    def nearest(point: tuple[float, float]) -> object:
        sites = nearest_sites(held, *point)
        held.expunge_all()  # no site loaded by an earlier query is reused
        found.append(len(sites))
        return sites

    def nearest_in_own_session(point: tuple[float, float]) -> object:
        with Session(engine) as session:
            return nearest_sites(session, *point)

    try:
        figures = {"nearest_ms": median_ms(nearest, dense)}
        check(statistics.median(found) == 10, f"dense queries found a median {found} sites")
        figures["nearest_any_ms"] = median_ms(nearest, anywhere)
    finally:
        held.close()
    figures["nearest_session_ms"] = median_ms(nearest_in_own_session, dense)
    with Session(engine) as session:
        check(session.scalar(select(func.count()).select_from(MineSite)) == SITES, "site count")
        candidates = []
        for lat, lon in dense:
            box = bounding_box(lat, lon, 25)
            west, east = box.longitudes[0]
            candidates.append(
                session.scalar(
                    select(func.count())
                    .select_from(MineSite)
                    .where(
                        MineSite.latitude.between(box.south, box.north),
                        MineSite.longitude.between(west, east),
                    )
                )
                or 0
            )
    figures["candidates"] = statistics.median(candidates)
    if os.environ.get("EXPLAIN"):  # show that the box is read from the index, not the table
        explain(engine, *dense[0])
    return figures


def explain(engine: Engine, lat: float, lon: float) -> None:
    box = bounding_box(lat, lon, 25)
    west, east = box.longitudes[0]
    query = select(MineSite.id, MineSite.latitude, MineSite.longitude).where(
        MineSite.latitude.between(box.south, box.north), MineSite.longitude.between(west, east)
    )
    prefix = "EXPLAIN QUERY PLAN" if engine.dialect.name == "sqlite" else "EXPLAIN ANALYZE"
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        for row in connection.execute(text(f"{prefix} {sql}")):
            print(" ".join(map(str, row)), file=sys.stderr)


def run(database: str, root: Path, server: str | None) -> dict[str, float]:
    url = (
        f"sqlite:///{root / 'sites.db'}"
        if server is None
        else postgres.create_database(server, f"bench_{uuid.uuid4().hex[:12]}")
    )
    engine = make_engine(url)
    try:
        schema.upgrade(engine)
        started = time.perf_counter()
        make_sites(engine, SITES, seed=20261122)
        load = time.perf_counter() - started
        print(f"{database}: loaded in {load:.1f} s", file=sys.stderr)
        return {"load_s": round(load, 1), **measure(engine)}
    finally:
        engine.dispose()


if __name__ == "__main__":
    main_over_databases(run, name="sites", description=__doc__)
