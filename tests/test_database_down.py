"""The database goes down: the intake says "try again later", the casework shows an error
page, nothing acknowledged is lost, and both recover by themselves when it comes back.

PostgreSQL (the production database) runs in a cluster of this test's own, so stopping it
does not touch the suite's shared server. The same app objects serve before, during and
after: nobody restarts Filon.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from filon.accounts import get_user, unlock_user_key
from filon.instance import Instance
from filon.submissions import open_submission, write_evidence
from tests.client.filon_client import Client, FileToSend, ServerError, b64
from tests.conftest import DeskSetup, Staff
from tests.postgres import Cluster, controlled_cluster, create_database
from tests.test_nojs import NoScriptSource


@pytest.fixture
def pg_cluster() -> Iterator[Cluster]:
    with controlled_cluster("filon-pg-down-") as made:
        yield made


@pytest.fixture
def db_url(pg_cluster: Cluster) -> str:
    """This module's instance lives on its own cluster (overrides the suite's fixture)."""
    return create_database(pg_cluster.url, "filon")


def refused(call: object) -> ServerError:
    with pytest.raises(ServerError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_the_database_down_is_try_again_later_and_both_apps_recover_by_themselves(
    pg_cluster: Cluster,
    instance: Instance,
    desk: DeskSetup,
    live_intake: str,
    intake_client: FlaskClient,
    staff: Staff,
) -> None:
    client = Client(live_intake, shuffle_chunks=False)
    client.fetch_key()
    data = os.urandom(1024 * 1024 + 500)
    key, header, chunks = client.encrypt(data)
    upload = client.post_json(
        "/api/v1/uploads",
        {"key_id": client.key_info["key_id"], "header": b64(header), "size": sum(map(len, chunks))},
    )["upload_id"]
    assert client.put_chunk(upload, 0, chunks[0]) == 1
    assert staff.log_in().status_code == 303
    incoming_before = set(instance.store.incoming_ids())

    pg_cluster.stop()

    for error in (
        refused(client.fetch_key),
        refused(lambda: client.put_chunk(upload, 1, chunks[1])),
        refused(lambda: client.request("GET", f"/api/v1/uploads/{upload}")),
        refused(
            lambda: client.post_json(
                "/api/v1/uploads",
                {"key_id": client.key_info["key_id"], "header": b64(header), "size": 100},
            )
        ),
    ):
        assert (error.status, error.code) == (503, "try_again_later")
    # A refused announcement leaves no stream behind.
    assert set(instance.store.incoming_ids()) == incoming_before
    page = NoScriptSource(intake_client).client.post(
        "/submit", data={"desk": "drc-minerals", "report": "x"}, content_type="multipart/form-data"
    )
    assert page.status_code == 503
    assert b"Please try again later" in page.data
    inbox = staff.client.get("/")
    assert inbox.status_code == 503
    assert b"The database cannot be reached" in inbox.data
    assert b"drc-minerals" not in inbox.data

    pg_cluster.start()  # nobody restarts Filon

    client.fetch_key()
    assert client.request("GET", f"/api/v1/uploads/{upload}") == {"received": 1}
    assert client.put_chunk(upload, 1, chunks[1]) == 2
    receipt = client.send_submission(
        desk="drc-minerals",
        answers={"report": "Sent across an outage."},
        entries=[client.file_entry(upload, key, FileToSend("ledger.bin", "", data))],
    ).receipt
    with instance.sessions() as session:
        user = get_user(session, desk.username)
        record = open_submission(
            session,
            reference=receipt,
            user=user,
            user_key=unlock_user_key(user, desk.password),
        )
        sink = io.BytesIO()
        write_evidence(instance.store, record.evidence[0], record.desk_key, sink)
    assert sink.getvalue() == data
    inbox = staff.client.get("/desks/drc-minerals")
    assert inbox.status_code == 200
    assert receipt.encode() in inbox.data
