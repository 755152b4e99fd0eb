"""Migrations: the first revision builds exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import IntegrityError

import casework.models  # noqa: F401 - the casework's tables are part of the schema
from filon import schema
from filon.db import Base, make_engine
from filon.errors import DatabaseBehindCode, DatabaseNewerThanCode


@pytest.fixture
def engine(db_url: str) -> Engine:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_upgrade_head_on_empty_database_matches_models(engine: Engine) -> None:
    schema.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
    assert schema.current_revision(engine) == schema.head_revision()


def test_upgrade_creates_every_table_and_constraint_name(engine: Engine) -> None:
    schema.upgrade(engine)
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    unique = {c["name"] for c in inspector.get_unique_constraints("desks")}
    assert "uq_desks_slug" in unique  # the naming convention reached the migration


def test_check_current_refuses_an_empty_database(engine: Engine) -> None:
    with pytest.raises(DatabaseBehindCode, match="filon upgrade"):
        schema.check_current(engine)


def test_database_newer_than_code_is_refused(engine: Engine) -> None:
    schema.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dface9999'"))
    with pytest.raises(DatabaseNewerThanCode, match="f00dface9999"):
        schema.check_current(engine)
    with pytest.raises(DatabaseNewerThanCode):
        schema.upgrade(engine)


def test_upgrade_is_idempotent(engine: Engine) -> None:
    schema.upgrade(engine)
    schema.upgrade(engine)
    schema.check_current(engine)


def insert_desk(connection: Connection) -> None:
    """A desk row as every revision since 0001 holds it."""
    connection.execute(
        text(
            "INSERT INTO desks (slug, name, public_key, sealed_for_recovery, keeps_originals,"
            " created_day) VALUES ('drc', 'DRC', :pk, :sealed, false, '2026-11-01')"
        ),
        {"pk": b"\x01" * 32, "sealed": b"\x02" * 80},
    )


def insert_user(connection: Connection, role: str) -> None:
    """The account 'ana' as every revision since 0001 holds it."""
    connection.execute(
        text(
            "INSERT INTO users (username, role, password_hash, public_key, wrapped_private_key,"
            " totp_secret, active, created_day) VALUES ('ana', :role, 'h', :pk,"
            " :wrapped, 'JBSWY3DPEHPK3PXP', true, '2026-11-01')"
        ),
        {"role": role, "pk": b"\x01" * 32, "wrapped": b"\x02" * 90},
    )


def insert_submission(connection: Connection, status: str) -> None:
    """A source and its submission 'REF1' to the desk of :func:`insert_desk`."""
    connection.execute(
        text(
            "INSERT INTO sources (lookup_hash, public_key, last_seen_day)"
            " VALUES (:hash, :pk, '2026-11-01')"
        ),
        {"hash": "f" * 64, "pk": b"\x03" * 32},
    )
    connection.execute(
        text(
            "INSERT INTO submissions (reference, desk_id, source_id, received_hour,"
            " sealed_metadata, status) SELECT 'REF1', desks.id, sources.id,"
            " '2026-11-01 10:00:00', :sealed, :status FROM desks, sources"
        ),
        {"sealed": b"\x04" * 64, "status": status},
    )


def insert_evidence(connection: Connection, blob_id: str) -> None:
    """One cleaned image file on each submission (an older revision's columns)."""
    connection.execute(
        text(
            "INSERT INTO evidence (submission_id, blob_id, sealed_file_key, cleaning_status,"
            " kind, ciphertext_size) SELECT id, :blob, :key, 'cleaned', 'image', 100"
            " FROM submissions"
        ),
        {"blob": blob_id, "key": b"\x06" * 80},
    )


def test_upgrade_from_0001_keeps_data(engine: Engine) -> None:
    """Every migration upgrades a database holding data; 0002 adds uploads beside it."""
    schema.upgrade(engine, "0001")
    with engine.begin() as connection:
        insert_desk(connection)
        connection.execute(
            text(
                "INSERT INTO custody_events (subject, seq, actor, action, at, details, prev_hash,"
                " hash) VALUES ('s', 0, 'intake', 'received', '2026-11-01 10:00:00', '{}',"
                " :zero, :one)"
            ),
            {"zero": "0" * 64, "one": "1" * 64},
        )
    schema.upgrade(engine, "0002")
    assert schema.current_revision(engine) == "0002"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT slug, name FROM desks")).one() == ("drc", "DRC")
        assert connection.execute(text("SELECT count(*) FROM custody_events")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM uploads")).scalar() == 0
    schema.upgrade(engine)  # and on through every later revision, still holding the data
    assert schema.current_revision(engine) == schema.head_revision()


def test_upgrade_from_0002_keeps_users_and_adds_staff_sessions(engine: Engine) -> None:
    """0003 adds the staff sessions and used TOTP steps beside existing accounts."""
    schema.upgrade(engine, "0002")
    with engine.begin() as connection:
        insert_user(connection, "investigator")
    schema.upgrade(engine, "0003")
    assert schema.current_revision(engine) == "0003"
    with engine.begin() as connection:
        user_id = connection.execute(text("SELECT id FROM users WHERE username = 'ana'")).scalar()
        connection.execute(
            text(
                "INSERT INTO staff_sessions (key_hash, user_id, sealed_user_key, created_at,"
                " last_seen_at, expires_at) VALUES (:hash, :user, :sealed, '2026-11-22 10:00:00',"
                " '2026-11-22 10:00:00', '2026-11-22 22:00:00')"
            ),
            {"hash": "a" * 64, "user": user_id, "sealed": b"\x03" * 72},
        )
        connection.execute(
            text("INSERT INTO totp_steps (user_id, last_step) VALUES (:user, 59000000)"),
            {"user": user_id},
        )
        connection.execute(text("DELETE FROM users WHERE id = :user"), {"user": user_id})
        # Deleting an account ends its sessions and forgets its TOTP step.
        assert connection.execute(text("SELECT count(*) FROM staff_sessions")).scalar() == 0
        assert connection.execute(text("SELECT count(*) FROM totp_steps")).scalar() == 0
    assert schema.current_revision(engine) == "0003"


def test_upgrade_from_0003_keeps_submissions_and_adds_cases(engine: Engine) -> None:
    """0004 adds cases, their submissions and sealed notes beside existing submissions."""
    schema.upgrade(engine, "0003")
    with engine.begin() as connection:
        insert_desk(connection)
        insert_submission(connection, "read")
    schema.upgrade(engine, "0004")
    assert schema.current_revision(engine) == "0004"
    with engine.begin() as connection:
        assert connection.execute(text("SELECT reference, status FROM submissions")).one() == (
            "REF1",
            "read",
        )
        connection.execute(
            text(
                "INSERT INTO cases (desk_id, title, status, priority, summary, minerals,"
                " risk_categories, tags, created_hour, updated_hour) SELECT id, 'Coltan',"
                " 'new', 'high', '', '[]', '[\"armed_groups\"]', '[]', '2026-11-22 10:00:00',"
                " '2026-11-22 10:00:00' FROM desks"
            )
        )
        connection.execute(
            text(
                "INSERT INTO case_submissions (case_id, submission_id)"
                " SELECT cases.id, submissions.id FROM cases, submissions"
            )
        )
        connection.execute(
            text(
                "INSERT INTO case_notes (case_id, sealed_text, created_hour)"
                " SELECT id, :sealed, '2026-11-22 10:00:00' FROM cases"
            ),
            {"sealed": b"\x05" * 60},
        )
        # A submission is linked to a case once.
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(
                text(
                    "INSERT INTO case_submissions (case_id, submission_id)"
                    " SELECT cases.id, submissions.id FROM cases, submissions"
                )
            )
        # The status CHECK holds on both databases.
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(text("UPDATE cases SET status = 'closed'"))
        connection.execute(text("DELETE FROM cases"))
        # Deleting a case removes its links and notes, never the submissions.
        assert connection.execute(text("SELECT count(*) FROM case_submissions")).scalar() == 0
        assert connection.execute(text("SELECT count(*) FROM case_notes")).scalar() == 0
        assert connection.execute(text("SELECT count(*) FROM submissions")).scalar() == 1


def test_upgrade_from_0004_keeps_sessions_and_adds_stepped_up_at(engine: Engine) -> None:
    """0005 adds when a staff session last stepped up; existing sessions have not."""
    schema.upgrade(engine, "0004")
    with engine.begin() as connection:
        insert_user(connection, "admin")
        connection.execute(
            text(
                "INSERT INTO staff_sessions (key_hash, user_id, sealed_user_key, created_at,"
                " last_seen_at, expires_at) SELECT :hash, id, :sealed, '2026-11-22 10:00:00',"
                " '2026-11-22 10:05:00', '2026-11-22 22:00:00' FROM users"
            ),
            {"hash": "a" * 64, "sealed": b"\x03" * 72},
        )
    schema.upgrade(engine, "0005")
    assert schema.current_revision(engine) == "0005"
    with engine.begin() as connection:
        row = connection.execute(
            text("SELECT key_hash, last_seen_at, stepped_up_at FROM staff_sessions")
        ).one()
        assert row[0] == "a" * 64
        assert str(row[1]).startswith("2026-11-22 10:05:00")
        assert row[2] is None  # an existing session must step up before a key operation
        connection.execute(text("UPDATE staff_sessions SET stepped_up_at = '2026-11-22 10:06:00'"))
        stepped = connection.execute(text("SELECT stepped_up_at FROM staff_sessions")).scalar()
        assert str(stepped).startswith("2026-11-22 10:06:00")
    schema.upgrade(engine)
    assert schema.current_revision(engine) == schema.head_revision()


def test_upgrade_from_0005_keeps_cases_and_adds_evidence_links_and_merges(engine: Engine) -> None:
    """0006 links evidence files to cases and records merged cases, beside existing cases."""
    schema.upgrade(engine, "0005")
    with engine.begin() as connection:
        insert_desk(connection)
        insert_submission(connection, "attached")
        insert_evidence(connection, "b")
        for title in ("Coltan", "Tin"):
            connection.execute(
                text(
                    "INSERT INTO cases (desk_id, title, status, priority, summary, minerals,"
                    " risk_categories, tags, created_hour, updated_hour) SELECT id, :title,"
                    " 'new', 'high', '', '[]', '[]', '[]', '2026-11-22 10:00:00',"
                    " '2026-11-22 10:00:00' FROM desks"
                ),
                {"title": title},
            )
    schema.upgrade(engine, "0006")
    assert schema.current_revision(engine) == "0006"
    with engine.begin() as connection:
        assert connection.execute(text("SELECT title FROM cases ORDER BY id")).scalars().all() == [
            "Coltan",
            "Tin",
        ]
        first, second = connection.execute(text("SELECT id FROM cases ORDER BY id")).scalars()
        evidence = connection.execute(text("SELECT id FROM evidence")).scalar_one()
        link = text(
            "INSERT INTO case_evidence (case_id, evidence_id, sealed_comment, created_hour)"
            " VALUES (:case, :evidence, :comment, '2026-11-22 11:00:00')"
        )
        connection.execute(link, {"case": first, "evidence": evidence, "comment": b"\x07" * 60})
        connection.execute(link, {"case": second, "evidence": evidence, "comment": None})
        # A file is linked to a case once.
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(link, {"case": first, "evidence": evidence, "comment": None})
        merge = text(
            "INSERT INTO case_merges (merged_case_id, into_case_id, merged_hour)"
            " VALUES (:merged, :into, '2026-11-22 12:00:00')"
        )
        connection.execute(merge, {"merged": second, "into": first})
        # A case is merged once.
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(merge, {"merged": second, "into": first})
        connection.execute(text("DELETE FROM cases WHERE id = :id"), {"id": second})
        # Deleting a case removes its links and merge record, never the evidence.
        assert connection.execute(text("SELECT count(*) FROM case_evidence")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM case_merges")).scalar() == 0
        connection.execute(text("DELETE FROM submissions"))
        # Destroying a submission (retention) removes its files' links.
        assert connection.execute(text("SELECT count(*) FROM case_evidence")).scalar() == 0


def test_upgrade_from_0006_backfills_case_labels_and_adds_saved_searches(engine: Engine) -> None:
    """0007 copies each case's tags, minerals and risks into case_labels, folded, one row each."""
    schema.upgrade(engine, "0006")
    with engine.begin() as connection:
        insert_desk(connection)
        insert_user(connection, "investigator")
        for title, tags, minerals, risks in [
            ("Rubaya", '["Rubaya", " north-kivu ", "rubaya"]', '["Coltan"]', '["taxes"]'),
            ("Empty", "[]", "[]", "[]"),
        ]:
            connection.execute(
                text(
                    "INSERT INTO cases (desk_id, title, status, priority, summary, minerals,"
                    " risk_categories, tags, created_hour, updated_hour) SELECT id, :title,"
                    " 'new', 'high', '', :minerals, :risks, :tags, '2026-11-22 10:00:00',"
                    " '2026-11-22 10:00:00' FROM desks"
                ),
                {"title": title, "tags": tags, "minerals": minerals, "risks": risks},
            )
    schema.upgrade(engine, "0007")
    assert schema.current_revision(engine) == "0007"
    with engine.begin() as connection:
        labels = connection.execute(
            text(
                "SELECT cases.title, kind, value FROM case_labels JOIN cases"
                " ON cases.id = case_labels.case_id ORDER BY kind, value"
            )
        ).all()
        assert [tuple(row) for row in labels] == [
            ("Rubaya", "mineral", "coltan"),
            ("Rubaya", "risk", "taxes"),
            ("Rubaya", "tag", "north-kivu"),
            ("Rubaya", "tag", "rubaya"),
        ]
        # The kind CHECK holds on both databases.
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(text("UPDATE case_labels SET kind = 'colour'"))
        insert_search = text(
            "INSERT INTO saved_searches (user_id, desk_id, name, query, created_hour)"
            " SELECT users.id, desks.id, 'Urgent coltan', 'mineral=coltan&priority=urgent',"
            " '2026-11-22 10:00:00' FROM users, desks"
        )
        connection.execute(insert_search)
        # A user's search names are unique per desk.
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(insert_search)
        connection.execute(text("DELETE FROM cases WHERE title = 'Rubaya'"))
        connection.execute(text("DELETE FROM users"))
        # Labels go with their case, saved searches with their owner.
        assert connection.execute(text("SELECT count(*) FROM case_labels")).scalar() == 0
        assert connection.execute(text("SELECT count(*) FROM saved_searches")).scalar() == 0
    indexes = {i["name"] for i in inspect(engine).get_indexes("submissions")}
    assert {"ix_submissions_desk_received", "ix_submissions_desk_status_received"} <= indexes


def test_upgrade_from_0007_keeps_cases_and_adds_the_registers(engine: Engine) -> None:
    """0008 adds mine sites, visits, actors, chain links and evidence links beside the cases."""
    schema.upgrade(engine, "0007")
    with engine.begin() as connection:
        insert_desk(connection)
        connection.execute(
            text(
                "INSERT INTO cases (desk_id, title, status, priority, summary, minerals,"
                " risk_categories, tags, created_hour, updated_hour) SELECT id, 'Kept', 'new',"
                " 'high', '', '[]', '[]', '[]', '2026-11-22 10:00:00', '2026-11-22 10:00:00'"
                " FROM desks"
            )
        )
    schema.upgrade(engine, "0008")
    assert schema.current_revision(engine) == "0008"
    with engine.begin() as connection:
        assert connection.execute(text("SELECT title FROM cases")).scalar() == "Kept"
        insert_site = text(
            "INSERT INTO mine_sites (dataset, external_id, name, latitude, longitude, province,"
            " territoire, village, minerals, workers, armed_presence, itsci, qualification,"
            " source, updated_hour) VALUES ('ipis', 'SYN-1', 'Site', -1.5, 28.8, '', '', '',"
            " '[\"gold\"]', 40, true, '', '', 'test', '2026-11-22 10:00:00')"
        )
        connection.execute(insert_site)
        # One row per (dataset, external id): a re-import can only update.
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(insert_site)
        connection.execute(
            text(
                "INSERT INTO mine_site_visits (site_id, dataset, external_id, visit_date, name,"
                " latitude, longitude, province, territoire, village, minerals, armed_groups,"
                " armed_group_type, state_services, itsci, qualification, row) SELECT id,"
                " 'ipis', 'V-1', '2016-08-03', 'Site', -1.5, 28.8, '', '', '', '[]', '[]', '',"
                " '[]', '', '', '{}' FROM mine_sites"
            )
        )
        connection.execute(
            text(
                "INSERT INTO actors (kind, name, country, updated_hour) VALUES"
                " ('trader', 'Négociant', 'CD', '2026-11-22 10:00:00')"
            )
        )
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(
                text(
                    "INSERT INTO actors (kind, name, country, updated_hour) VALUES"
                    " ('wizard', 'X', '', '2026-11-22 10:00:00')"
                )
            )
        connection.execute(
            text(
                "INSERT INTO chain_links (from_site_id, to_actor_id, mineral, created_hour)"
                " SELECT mine_sites.id, actors.id, 'gold', '2026-11-22 10:00:00'"
                " FROM mine_sites, actors"
            )
        )
        connection.execute(text("DELETE FROM mine_sites"))
        # Visits and chain links go with their site.
        assert connection.execute(text("SELECT count(*) FROM mine_site_visits")).scalar() == 0
        assert connection.execute(text("SELECT count(*) FROM chain_links")).scalar() == 0
    indexes = {i["name"] for i in inspect(engine).get_indexes("mine_sites")}
    assert {"ix_mine_sites_lat_lon", "ix_mine_sites_lon_lat"} <= indexes


def test_upgrade_from_0008_keeps_accounts_and_adds_their_email(engine: Engine) -> None:
    """0012 adds a nullable email address to existing accounts, which keep everything else."""
    schema.upgrade(engine, "0008")
    with engine.begin() as connection:
        insert_user(connection, "investigator")
        insert_desk(connection)
        insert_submission(connection, "new")
    schema.upgrade(engine, "0012")
    with engine.begin() as connection:
        row = connection.execute(text("SELECT username, role, email FROM users")).one()
        assert row == ("ana", "investigator", None)
        connection.execute(text("UPDATE users SET email = 'ana@example.org'"))
        assert connection.execute(text("SELECT email FROM users")).scalar() == "ana@example.org"
        assert connection.execute(text("SELECT reference FROM submissions")).scalar() == "REF1"


def test_upgrade_from_0008_keeps_the_registers_and_adds_geotags(engine: Engine) -> None:
    """0009 adds geotags beside submissions, evidence, cases and mine sites."""
    schema.upgrade(engine, "0008")
    with engine.begin() as connection:
        insert_desk(connection)
        insert_user(connection, "investigator")
        insert_submission(connection, "read")
        insert_evidence(connection, "a" * 32)
        connection.execute(
            text(
                "INSERT INTO cases (desk_id, title, status, priority, summary, minerals,"
                " risk_categories, tags, created_hour, updated_hour) SELECT id, 'Kept', 'new',"
                " 'high', '', '[]', '[]', '[]', '2026-11-22 10:00:00', '2026-11-22 10:00:00'"
                " FROM desks"
            )
        )
    schema.upgrade(engine, "0009")
    assert schema.current_revision(engine) == "0009"
    insert_geotag = text(
        "INSERT INTO geotags (desk_id, submission_id, evidence_id, case_id, latitude, longitude,"
        " precision_m, method, note, created_by_id, created_hour, updated_hour) SELECT desks.id,"
        " submissions.id, evidence.id, cases.id, -1.67, 28.875, 50, :method, 'GPS of file 1',"
        " users.id, '2026-11-22 10:00:00', '2026-11-22 10:00:00' FROM desks, submissions,"
        " evidence, cases, users"
    )
    with engine.begin() as connection:
        assert connection.execute(text("SELECT reference FROM submissions")).scalar() == "REF1"
        assert connection.execute(text("SELECT title FROM cases")).scalar() == "Kept"
        connection.execute(insert_geotag, {"method": "consented"})
        # The method CHECK holds on both databases.
        with pytest.raises(IntegrityError), connection.begin_nested():
            connection.execute(insert_geotag, {"method": "dowsing"})
        # A deleted case or author leaves the geotag, without them.
        connection.execute(text("DELETE FROM cases"))
        connection.execute(text("DELETE FROM users"))
        row = connection.execute(
            text("SELECT case_id, created_by_id, latitude, method FROM geotags")
        ).one()
        assert tuple(row) == (None, None, -1.67, "consented")
        # A geotag goes with its file, and with its submission.
        connection.execute(text("DELETE FROM evidence"))
        assert connection.execute(text("SELECT count(*) FROM geotags")).scalar() == 0
        connection.execute(
            text(
                "INSERT INTO geotags (desk_id, submission_id, latitude, longitude, precision_m,"
                " method, note, created_hour, updated_hour) SELECT desk_id, id, 0.5, 179.9, 1000,"
                " 'text', '', '2026-11-22 10:00:00', '2026-11-22 10:00:00' FROM submissions"
            )
        )
        connection.execute(text("DELETE FROM submissions"))
        assert connection.execute(text("SELECT count(*) FROM geotags")).scalar() == 0
    indexes = {i["name"] for i in inspect(engine).get_indexes("geotags")}
    assert {"ix_geotags_desk_lat_lon", "ix_geotags_submission_id"} <= indexes


def test_upgrade_from_0008_keeps_links_and_adds_desk_links_and_site_and_actor_targets(
    engine: Engine,
) -> None:
    """0010 gives chain links a desk, and evidence links a site or actor target and a desk."""
    schema.upgrade(engine, "0008")
    with engine.begin() as connection:
        insert_desk(connection)
        insert_submission(connection, "attached")
        insert_evidence(connection, "b")
        connection.execute(
            text(
                "INSERT INTO mine_sites (dataset, external_id, name, latitude, longitude,"
                " province, territoire, village, minerals, itsci, qualification, source,"
                " updated_hour) VALUES ('ipis', 'SYN-1', 'Site', -1.5, 28.8, '', '', '',"
                " '[]', '', '', 'test', '2026-11-22 10:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO actors (kind, name, country, updated_hour) VALUES"
                " ('trader', 'Négociant', 'CD', '2026-11-22 10:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO chain_links (from_site_id, to_actor_id, mineral, created_hour)"
                " SELECT mine_sites.id, actors.id, 'gold', '2026-11-22 10:00:00'"
                " FROM mine_sites, actors"
            )
        )
        connection.execute(
            text(
                "INSERT INTO evidence_links (chain_link_id, evidence_id, created_hour)"
                " SELECT chain_links.id, evidence.id, '2026-11-22 11:00:00'"
                " FROM chain_links, evidence"
            )
        )
    schema.upgrade(engine, "0010")
    assert schema.current_revision(engine) == "0010"
    with engine.begin() as connection:
        desk = connection.execute(text("SELECT id FROM desks")).scalar_one()
        # The kept link is the register's (no desk); its evidence link got the file's desk.
        assert connection.execute(text("SELECT desk_id FROM chain_links")).one() == (None,)
        assert connection.execute(
            text("SELECT desk_id, site_id, actor_id FROM evidence_links")
        ).one() == (desk, None, None)
        target = text(
            "INSERT INTO evidence_links (chain_link_id, site_id, actor_id, evidence_id, desk_id,"
            " created_hour) SELECT :link, :site, :actor, evidence.id, :desk,"
            " '2026-11-22 12:00:00' FROM evidence"
        )
        link = connection.execute(text("SELECT id FROM chain_links")).scalar_one()
        site = connection.execute(text("SELECT id FROM mine_sites")).scalar_one()
        actor = connection.execute(text("SELECT id FROM actors")).scalar_one()
        connection.execute(target, {"link": None, "site": site, "actor": None, "desk": desk})
        connection.execute(target, {"link": None, "site": None, "actor": actor, "desk": desk})
        # Exactly one target: none, or two, is refused on both databases.
        for bad in [(None, None, None), (link, site, None), (None, site, actor)]:
            values = dict(zip(("link", "site", "actor"), bad, strict=True))
            with pytest.raises(IntegrityError), connection.begin_nested():
                connection.execute(target, {**values, "desk": desk})
        connection.execute(text("UPDATE chain_links SET desk_id = :desk"), {"desk": desk})
    # The later revisions (actors' details, staff email) rebuild no table these links hang
    # on (SQLite would cascade a dropped table's rows): all three links reach the head.
    schema.upgrade(engine)
    assert schema.current_revision(engine) == schema.head_revision()
    with engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM evidence_links")).scalar() == 3
        connection.execute(text("DELETE FROM actors"))
        # The actor's links and the chain link (to that actor) go with it; the site's stays.
        assert connection.execute(text("SELECT count(*) FROM chain_links")).scalar() == 0
        assert connection.execute(
            text("SELECT site_id IS NOT NULL FROM evidence_links")
        ).scalars().all() == [True]
        connection.execute(text("DELETE FROM submissions"))
        # Destroying a submission (retention) removes its files' links to sites and actors.
        assert connection.execute(text("SELECT count(*) FROM evidence_links")).scalar() == 0
