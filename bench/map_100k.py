"""Benchmark the desk map's features: 100,000 mine sites, SQLite and PostgreSQL.

Builds a fresh instance per database (SQLite in a file; PostgreSQL in a throwaway cluster
started as the test suite starts one), bulk-inserts 100,000 synthetic mine sites with
:func:`make_sites` (three in four packed around mining hubs of eastern DR Congo, the rest
spread over the country, as the IPIS register is), then times
``GET /desks/<slug>/map/features.geojson`` through the Flask test client with a signed-in
session (session check, query parsing, desk check, the queries, JSON), median of ``RUNS``
runs, for realistic visible areas:

- ``territory``: about Masisi and Kalehe (0.6° × 0.8°; clustered too, as the hubs are dense);
- ``province``: South Kivu (2.8° × 3.4°);
- ``country``: the whole DR Congo;
- ``province_filtered``: South Kivu, gold, armed presence seen, visited since 2020 (under
  the cap: the sites one by one).

Past 5,000 sites in the area the answer is grid clusters (``*_clusters``); ``*_features``
is how many features came back, ``*_kb`` the size of the answer. Target: every median
≤ 200 ms.

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/map_100k.py [--databases sqlite,postgresql]``.
Ends with one line of ``key=value`` figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
from sqlalchemy import Connection, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import casework.models  # noqa: E402, F401 - the casework's tables
from casework import create_app  # noqa: E402
from filon.accounts import DeskGrant, create_user  # noqa: E402
from filon.db import Base, transaction  # noqa: E402
from filon.desks import create_desk  # noqa: E402
from filon.instance import Instance, init_instance  # noqa: E402
from filon.models import Role  # noqa: E402
from tests import postgres  # noqa: E402

SITES = 100_000
RUNS = int(os.environ.get("RUNS", "25"))
SLUG = "drc-minerals"
PASSWORD = "bench-password-long-enough"  # noqa: S105 - a throwaway instance
BATCH = 5_000
TARGET_MS = 200

# Mining hubs of eastern DR Congo (latitude, longitude): Rubaya, Bisie, Kamituga, Mongbwalu,
# Shabunda, Lugushwa, Nyabibwe, Numbi, Misisi, Punia, Manono, Kalehe, Walikale, Mambasa...
HUBS = [
    (-1.55, 28.88),
    (-1.02, 27.88),
    (-3.06, 28.18),
    (1.95, 30.03),
    (-2.69, 27.34),
    (-3.52, 28.37),
    (-2.08, 28.93),
    (-1.98, 28.95),
    (-4.28, 28.97),
    (-1.37, 26.45),
    (-7.29, 27.43),
    (-2.10, 28.91),
    (-1.42, 28.06),
    (1.05, 29.05),
    (-0.55, 29.20),
    (0.13, 29.28),
    (-2.95, 26.30),
    (-4.95, 27.60),
    (2.55, 30.25),
    (-6.10, 29.10),
]
DRC = (12.2, -13.4, 31.3, 5.3)  # west, south, east, north
MINERALS = ["gold", "cassiterite", "coltan", "wolframite", "cobalt", "copper", "diamond"]
AREAS: dict[str, dict[str, str]] = {
    "territory": {"bbox": "28.6,-2.2,29.2,-1.4"},
    "province": {"bbox": "26.8,-5.0,29.6,-1.6"},
    "country": {"bbox": ",".join(map(str, DRC))},
    "province_filtered": {
        "bbox": "26.8,-5.0,29.6,-1.6",
        "mineral": "gold",
        "armed": "yes",
        "since": "2020-01-01",
    },
}


def make_sites(count: int, *, seed: int = 20261122) -> Iterator[dict[str, Any]]:
    """``count`` synthetic mine-site rows, dense in eastern DR Congo, reproducible by seed."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    west, south, east, north = DRC
    start = dt.date(2009, 1, 1)
    for n in range(count):
        if rng.random() < 0.75:
            lat, lon = rng.choice(HUBS)
            spread = rng.choice((0.05, 0.2, 0.6))
            lat, lon = rng.gauss(lat, spread), rng.gauss(lon, spread)
        else:
            lat, lon = rng.uniform(south, north), rng.uniform(west, east)
        minerals = sorted(set(rng.choices(MINERALS, weights=[40, 25, 15, 5, 6, 6, 3], k=2)))
        yield {
            "dataset": "bench",
            "external_id": f"B{n:06d}",
            "name": f"Site {n}",
            "latitude": round(min(max(lat, south), north), 5),
            "longitude": round(min(max(lon, west), east), 5),
            "province": "",
            "territoire": "",
            "village": "",
            "minerals": minerals,
            "last_visit_date": rng.choice([None, start + dt.timedelta(days=rng.randrange(5800))]),
            "workers": rng.randint(5, 2000),
            "armed_presence": rng.choice([True, False, False, None]),
            "itsci": "",
            "qualification": "",
            "source": "synthetic",
            "updated_hour": dt.datetime(2026, 1, 1),
        }


def make_staff(instance: Instance) -> str:
    """The desk and its investigator; returns the TOTP secret."""
    with transaction(instance.sessions) as session:
        desk, key = create_desk(
            session,
            slug=SLUG,
            name="DR Congo minerals",
            recovery_public_key=instance.settings.recovery_public_key,
        )
        made = create_user(
            session,
            username="investigator",
            role=Role.INVESTIGATOR,
            password=PASSWORD,
            grants=[DeskGrant(desk, key)],
        )
        return made.totp_secret


def fill(connection: Connection) -> None:
    """Bulk-insert the sites, then analyse (as autovacuum would soon after a bulk load)."""
    table = Base.metadata.tables["mine_sites"]
    batch: list[dict[str, Any]] = []
    for row in make_sites(SITES):
        batch.append(row)
        if len(batch) == BATCH:
            connection.execute(table.insert(), batch)
            batch = []
    if batch:
        connection.execute(table.insert(), batch)
    connection.execute(text("ANALYZE"))


def median_ms(run: Callable[[], object]) -> float:
    run()  # warm caches and the connection pool
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def check(condition: bool, problem: str) -> None:
    if not condition:
        raise SystemExit(f"benchmark setup is wrong: {problem}")


def measure(instance: Instance, secret: str) -> dict[str, float]:
    app = create_app(instance.settings, instance)
    app.config["TESTING"] = True
    app.config["PREFERRED_URL_SCHEME"] = "https"  # the casework's cookies are Secure
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = login.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    signed_in = client.post(
        "/login",
        data={
            "csrf_token": token,
            "username": "investigator",
            "password": PASSWORD,
            "code": pyotp.TOTP(secret).now(),
        },
    )
    check(signed_in.status_code == 303, f"sign-in answered {signed_in.status_code}")
    figures: dict[str, float] = {}
    for name, params in AREAS.items():

        def route(params: dict[str, str] = params) -> bytes:
            response = client.get(f"/desks/{SLUG}/map/features.geojson", query_string=params)
            check(response.status_code == 200, f"the map answered {response.status_code}")
            return response.get_data()

        body = route()
        collection = json.loads(body)
        check(bool(collection["features"]), f"no features for {name}")
        figures[f"{name}_ms"] = median_ms(route)
        figures[f"{name}_features"] = len(collection["features"])
        figures[f"{name}_clusters"] = int(collection["truncated"])
        figures[f"{name}_kb"] = round(len(body) / 1024)
    figures["max_ms"] = max(v for k, v in figures.items() if k.endswith("_ms"))
    figures["target_met"] = int(figures["max_ms"] <= TARGET_MS)
    return figures


def run(database: str, root: Path, server: str | None) -> dict[str, float]:
    url = (
        f"sqlite:///{root / 'map.db'}"
        if server is None
        else postgres.create_database(server, f"bench_{uuid.uuid4().hex[:12]}")
    )
    created = init_instance(root / f"instance-{database}", database_url=url)
    instance = created.instance
    try:
        secret = make_staff(instance)
        started = time.perf_counter()
        with instance.engine.begin() as connection:
            fill(connection)
        if database == "postgresql":
            # What autovacuum does after a bulk insert (PostgreSQL 13 on): it sets the
            # visibility map, so an index-only scan need not visit the table.
            with instance.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ) as connection:
                connection.execute(text("VACUUM ANALYZE mine_sites"))
        load = time.perf_counter() - started
        print(f"{database}: loaded in {load:.1f} s", file=sys.stderr)
        return {"load_s": round(load, 1), **measure(instance, secret)}
    finally:
        instance.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    wanted = parser.parse_args().databases.split(",")
    figures: dict[str, float] = {}
    root = Path(tempfile.mkdtemp(prefix="filon-bench-map-"))
    try:
        for database in wanted:
            with contextlib.ExitStack() as stack:
                server = (
                    stack.enter_context(postgres.cluster("filon-bench-pg-"))
                    if database == "postgresql"
                    else None
                )
                found = run(database, root, server)
            prefix = "pg" if database == "postgresql" else "sqlite"
            figures.update({f"{prefix}_{k}": v for k, v in found.items()})
            print(f"{database}: {found}", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
