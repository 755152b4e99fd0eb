"""Benchmark the desk map's features: 100,000 mine sites, SQLite and PostgreSQL.

Builds a fresh instance per database (SQLite in a file; PostgreSQL in a throwaway cluster
started as the test suite starts one), bulk-inserts 100,000 synthetic mine sites with
:func:`bench.sites_100k.make_sites` (packed around mining districts of eastern DR Congo,
sparse elsewhere, as the IPIS register is; the nearest-site benchmark uses the same sites),
then times
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

import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import casework.models  # noqa: E402, F401 - the casework's tables
from bench.databases import (  # noqa: E402
    DESK_SLUG as SLUG,
)
from bench.databases import (  # noqa: E402
    check,
    main_over_databases,
    make_desk_staff,
    signed_in_casework,
)
from bench.sites_100k import make_sites  # noqa: E402 - the one generator of both benchmarks
from filon.instance import Instance, init_instance  # noqa: E402
from tests import postgres  # noqa: E402

SITES = 100_000
RUNS = int(os.environ.get("RUNS", "25"))
DRC = (12.2, -13.4, 31.3, 5.3)  # west, south, east, north
TARGET_MS = 200

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


def median_ms(run: Callable[[], object]) -> float:
    run()  # warm caches and the connection pool
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def measure(instance: Instance, secret: str) -> dict[str, float]:
    client = signed_in_casework(instance, "investigator", secret)
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
        secret = make_desk_staff(instance, ["investigator"])[0].totp_secret
        started = time.perf_counter()
        make_sites(instance.engine, SITES, seed=20261122)
        load = time.perf_counter() - started
        print(f"{database}: loaded in {load:.1f} s", file=sys.stderr)
        return {"load_s": round(load, 1), **measure(instance, secret)}
    finally:
        instance.close()


if __name__ == "__main__":
    main_over_databases(run, name="map", description=__doc__)
