"""Benchmark the inbox of a large desk: 100,000 submissions and 10,000 cases, SQLite and PostgreSQL.

Builds a fresh instance per database (SQLite in a file; PostgreSQL in a throwaway cluster started
as the test suite starts one, with its helpers), fills one desk straight through SQLAlchemy Core
bulk inserts (100,000 submissions with one or two evidence rows each, 10,000 cases linked to
one to four submissions, with priorities, assignees, tags, minerals and risks, and their
``case_labels``; sealed fields are random bytes, since the inbox never opens them), then times
the server side of four inbox pages, median of ``RUNS`` runs each:

- ``first``: the newest page, no filter;
- ``filtered``: status ``attached`` + mineral ``gold`` + risk ``armed_groups``;
- ``search``: a case-text search (``rubaya``, in about one case title in thirty);
- ``deep``: the page after a cursor 90,000 rows down (seek, not OFFSET).

``*_ms`` is :func:`casework.inbox.inbox_page` alone (what the route calls, one transaction per
run); ``*_route_ms`` is the whole ``GET /desks/<slug>`` through the Flask test client with a
signed-in session (session check, filter parsing, the page, the filter bar's values, Jinja).
Target: every median ≤ 50 ms.

Run: ``PYTHONPATH=$PWD .venv/bin/python bench/inbox_100k.py [--databases sqlite,postgresql]``.
Ends with one line of ``key=value`` figures.
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

from sqlalchemy import Connection, func, select, text

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
from casework.inbox import Cursor, InboxFilters, inbox_page  # noqa: E402
from casework.risks import RISK_CATEGORIES  # noqa: E402
from filon.accounts import get_user  # noqa: E402
from filon.db import Base, transaction  # noqa: E402
from filon.instance import Instance, init_instance  # noqa: E402
from filon.models import Submission  # noqa: E402
from tests import postgres  # noqa: E402

SUBMISSIONS = 100_000
CASES = 10_000
RUNS = int(os.environ.get("RUNS", "25"))
START = dt.datetime(2024, 1, 1)
MINERALS = ["gold", "coltan", "cassiterite", "wolframite", "cobalt", "copper", "diamonds", "tin"]
SITES = [
    *("Rubaya", "Bisie", "Kamituga", "Mongbwalu", "Shabunda", "Walikale", "Masisi", "Lugushwa"),
    *("Nyabibwe", "Numbi", "Kalehe", "Idiba", "Misisi", "Mwenga", "Fizi", "Punia", "Lubero"),
    *("Butembo", "Beni", "Mambasa", "Watsa", "Durba", "Kolwezi", "Likasi", "Manono", "Kipushi"),
    *("Tshikapa", "Kahemba", "Lodja", "Uvira"),
]
TOPICS = ["levies", "night trucks", "child labour", "checkpoint", "smuggling", "tagging fraud"]
TAGS = [f"{site.lower()}-{n}" for site in SITES[:10] for n in range(4)]
BATCH = 5_000


# -- the data ---------------------------------------------------------------------------------


def fill(connection: Connection, user_ids: list[int]) -> None:
    """Bulk-insert the desk's submissions, evidence, cases, links and labels."""
    rng = random.Random(20261122)  # noqa: S311 - reproducible test data, not secrets
    tables = Base.metadata.tables
    desk_id = connection.execute(text("SELECT id FROM desks WHERE slug = :s"), {"s": SLUG}).scalar()
    connection.execute(
        tables["sources"].insert(),
        [
            {"id": n, "lookup_hash": f"{n:064x}", "public_key": rng.randbytes(32)}
            | {"last_seen_day": START.date()}
            for n in range(1, 101)
        ],
    )
    statuses = ["new"] * 3 + ["read"] * 5 + ["dismissed"]
    attached = set(rng.sample(range(1, SUBMISSIONS + 1), 25_000))
    submissions, evidence = [], []
    evidence_id = 0
    for n in range(1, SUBMISSIONS + 1):
        submissions.append(
            {
                "id": n,
                "reference": f"S{n:07d}",
                "desk_id": desk_id,
                "source_id": rng.randint(1, 100),
                # About six an hour, over two years: many share an hour, as on a busy desk.
                "received_hour": START + dt.timedelta(hours=n // 6),
                "sealed_metadata": rng.randbytes(96),
                "status": "attached" if n in attached else rng.choice(statuses),
            }
        )
        for _ in range(rng.choice((1, 1, 2))):
            evidence_id += 1
            cleaning = rng.choices(
                ["cleaned", "nothing_to_clean", "not_cleaned"], weights=[70, 25, 5]
            )[0]
            evidence.append(
                {
                    "id": evidence_id,
                    "submission_id": n,
                    "blob_id": f"{evidence_id:032x}",
                    "sealed_file_key": rng.randbytes(80),
                    "cleaning_status": cleaning,
                    "kind": "image",
                    "ciphertext_size": rng.randint(10_000, 5_000_000),
                }
            )
    insert(connection, "submissions", submissions)
    insert(connection, "evidence", evidence)
    cases, links, labels = [], [], []
    pool = sorted(attached)
    rng.shuffle(pool)
    hour = START + dt.timedelta(days=700)
    for case_id in range(1, CASES + 1):
        site, mineral = rng.choice(SITES), rng.choice(MINERALS)
        minerals = sorted({mineral, *rng.sample(MINERALS, rng.randint(0, 1))})
        risks = rng.sample(sorted(RISK_CATEGORIES), rng.randint(0, 3))
        tags = rng.sample(TAGS, rng.randint(1, 3))
        cases.append(
            {
                "id": case_id,
                "desk_id": desk_id,
                "title": f"{site} {mineral} {rng.choice(TOPICS)}",
                "status": rng.choice(["new", "triage", "investigating", "verified"]),
                "priority": rng.choice(["low", "normal", "normal", "high", "urgent"]),
                "assignee_id": rng.choice([None, *user_ids]),
                "summary": f"Reports from {site} about {mineral}; follow-up {case_id}.",
                "minerals": minerals,
                "risk_categories": risks,
                "tags": tags,
                "created_hour": hour,
                "updated_hour": hour,
            }
        )
        linked = {pool[(case_id * 2 + k) % len(pool)] for k in range(rng.randint(1, 4))}
        links.extend({"case_id": case_id, "submission_id": s} for s in sorted(linked))
        labels.extend(
            {"case_id": case_id, "kind": kind, "value": value}
            for kind, values in (("tag", tags), ("mineral", minerals), ("risk", risks))
            for value in values
        )
    insert(connection, "cases", cases)
    insert(connection, "case_submissions", links)
    insert(connection, "case_labels", labels)
    if connection.dialect.name == "postgresql":
        for name in ("sources", "submissions", "evidence", "cases"):
            # The names are the constants above, not input.
            sql = f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), max(id)) FROM {name}"  # noqa: S608
            connection.execute(text(sql))
    # What PostgreSQL's autovacuum does soon after a bulk load; SQLite's planner has no
    # statistics until ANALYZE, so the figures are for a database that has been analysed.
    connection.execute(text("ANALYZE"))


def insert(connection: Connection, name: str, rows: list[dict[str, Any]]) -> None:
    table = Base.metadata.tables[name]
    for start in range(0, len(rows), BATCH):
        connection.execute(table.insert(), rows[start : start + BATCH])


# -- the measurements -------------------------------------------------------------------------


def median_ms(run: Callable[[], object]) -> float:
    run()  # warm caches and the connection pool
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


def measure(instance: Instance, secret: str) -> dict[str, float]:
    with instance.sessions() as session:
        user = get_user(session, "investigator")
        deep_hour, deep_id = session.execute(
            select(Submission.received_hour, Submission.id)
            .order_by(Submission.received_hour.desc(), Submission.id.desc())
            .offset(90_000)
            .limit(1)
        ).one()
        total = session.scalar(select(func.count()).select_from(Submission))
        check(total == SUBMISSIONS, f"{total} submissions")
    deep = Cursor(deep_hour, deep_id)
    queries: dict[str, tuple[dict[str, str], Cursor | None]] = {
        "first": ({}, None),
        "filtered": ({"status": "attached", "mineral": "gold", "risk": "armed_groups"}, None),
        "search": ({"q": "rubaya"}, None),
        "deep": ({}, deep),
    }
    figures: dict[str, float] = {}
    for name, (args, before) in queries.items():
        filters = InboxFilters.from_args(args)

        def page(filters: InboxFilters = filters, before: Cursor | None = before) -> object:
            with transaction(instance.sessions) as session:
                found = inbox_page(session, user=user, slug=SLUG, filters=filters, before=before)
                check(bool(found.rows), "an empty page")
                return found

        figures[f"{name}_ms"] = median_ms(page)
    client = signed_in_casework(instance, "investigator", secret)
    for name, (args, before) in queries.items():
        params = {**args, **({"before": before.token()} if before else {})}

        def route(params: dict[str, str] = params) -> object:
            response = client.get(f"/desks/{SLUG}", query_string=params)
            check(response.status_code == 200, f"the inbox answered {response.status_code}")
            return response

        figures[f"{name}_route_ms"] = median_ms(route)
    return figures


def run(database: str, root: Path, server: str | None) -> dict[str, float]:
    url = (
        f"sqlite:///{root / 'inbox.db'}"
        if server is None
        else postgres.create_database(server, f"bench_{uuid.uuid4().hex[:12]}")
    )
    created = init_instance(root / f"instance-{database}", database_url=url)
    instance = created.instance
    try:
        made = make_desk_staff(instance, ["investigator", "ana", "ben"])
        secret, user_ids = made[0].totp_secret, [m.user.id for m in made]
        started = time.perf_counter()
        with instance.engine.begin() as connection:
            fill(connection, user_ids)
        load = time.perf_counter() - started
        print(f"{database}: loaded in {load:.1f} s", file=sys.stderr)
        return {"load_s": round(load, 1), **measure(instance, secret)}
    finally:
        instance.close()


if __name__ == "__main__":
    main_over_databases(run, name="inbox", description=__doc__)
