"""Scale-out: two ``filon serve`` processes on one PostgreSQL and one blob volume act as one.

Each process is a real ``filon serve`` (cheroot, its own ports, its own memory), started as
a container or a systemd unit would start it, from the environment. Nothing a request needs
may live in one process alone: an upload started on one finishes on the other, a staff
session made on one works on the other (and signing out on one ends it on both), a
proof-of-work challenge issued by one is accepted once by the other, and the global rate
limit counts requests to both.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.test import encode_multipart

from filon.accounts import DeskGrant, create_user
from filon.db import transaction
from filon.desks import create_desk
from filon.instance import Instance, init_instance
from filon.models import Role, Submission
from tests import postgres
from tests.client.filon_client import Client, ServerError, b64
from tests.conftest import DATABASES, STAFF_PASSWORD, totp_code

pytestmark = pytest.mark.skipif(
    "postgresql" not in DATABASES, reason="scale-out needs PostgreSQL (FILON_TEST_DATABASES)"
)

FILON = [sys.executable, "-m", "filon"]
DESK = "drc-minerals"
REPORT = "Two trucks left the Rubaya washing site at night (scale-out test)."
NOJS_LIMIT = 3


@dataclass
class Browser:
    """Just enough of a browser: cookies by name (Secure ones too, over plain HTTP here)."""

    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request, no redirect followed; keeps what ``Set-Cookie`` says."""
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if content_type:
            headers["Content-Type"] = content_type
        try:
            connection.request(method, parts.path or "/", body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return response.status, dict(response.headers.items()), data

    def csrf_token(self, url: str) -> str:
        status, _, page = self.request("GET", url)
        assert status == 200
        match = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert match is not None, f"no CSRF token on {url}"
        return match.group(1).decode()

    def post_form(self, url: str, fields: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        body = urlencode(fields).encode()
        return self.request("POST", url, body, "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Shared:
    """The one instance (folder and database) both processes serve, and its investigator."""

    instance: Instance
    env: dict[str, str]
    totp_secret: str


@pytest.fixture
def shared(tmp_path: Path, postgres_server: str) -> Iterator[Shared]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres.create_database(postgres_server, name)
    created = init_instance(tmp_path / "instance", database_url=url, pow_difficulty=4)
    instance = created.instance
    with transaction(instance.sessions) as session:
        desk, key = create_desk(
            session,
            slug=DESK,
            name="DR Congo minerals",
            recovery_public_key=instance.settings.recovery_public_key,
        )
        made = create_user(
            session,
            username="investigator",
            role=Role.INVESTIGATOR,
            password=STAFF_PASSWORD,
            grants=[DeskGrant(desk, key)],
        )
    # Configured as a container would be: from the environment alone.
    env = {
        "FILON_INSTANCE": str(instance.settings.instance_dir),
        "FILON_DATABASE_URL": url,
        "FILON_NOJS_SUBMISSIONS_PER_HOUR": str(NOJS_LIMIT),
        "FILON_INTAKE_HOST": "127.0.0.1",
        "FILON_INTAKE_PORT": "0",
        "FILON_CASEWORK_HOST": "127.0.0.1",
        "FILON_CASEWORK_PORT": "0",
        "FILON_THREADS": "4",
    }
    try:
        yield Shared(instance, env, made.totp_secret)
    finally:
        instance.close()
        postgres.drop_database(postgres_server, name)


@dataclass
class Served:
    """One ``filon serve`` process and the URLs it printed."""

    process: subprocess.Popen[str]
    intake: str
    casework: str


def start(env: dict[str, str]) -> Served:
    process = subprocess.Popen(
        [*FILON, "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    urls: dict[str, str] = {}
    assert process.stdout is not None
    while len(urls) < 2:
        line = process.stdout.readline()
        if not line:
            process.wait(timeout=20)
            pytest.fail(f"serve stopped: {process.stderr.read() if process.stderr else ''}")
        if match := re.fullmatch(r"(intake|casework): (http://127\.0\.0\.1:\d+)\n", line):
            urls[match.group(1)] = match.group(2)
    return Served(process, urls["intake"], urls["casework"])


@pytest.fixture
def servers(shared: Shared) -> Iterator[list[Served]]:
    """Two processes on the shared instance, each on ports of its own."""
    started: list[Served] = []
    try:
        started.append(start(shared.env))
        started.append(start(shared.env))
        yield started
    finally:
        for served in started:
            if served.process.poll() is None:
                served.process.terminate()
            served.process.communicate(timeout=30)


def base_envelope() -> dict[str, Any]:
    """A report without files; ``files`` is added by the caller."""
    return {"v": 1, "desk": DESK, "lang": "en", "codename": None, "answers": {"report": REPORT}}


def test_both_processes_are_ready_on_one_database(servers: list[Served]) -> None:
    for served in servers:
        for url in (served.intake, served.casework):
            status, _, body = Browser().request("GET", url + "/readyz")
            assert (status, body) == (200, b"ok\n")


def test_an_upload_started_on_one_finishes_on_the_other_and_a_session_spans_both(
    shared: Shared, servers: list[Served]
) -> None:
    one, other = servers
    first, second = Client(one.intake), Client(other.intake)
    info = first.fetch_key()  # the key and the proof-of-work challenge, from the first process
    data = os.urandom(2 * 1024 * 1024 + 12345)  # three chunks
    file_key, header, chunks = first.encrypt(data)
    created = first.post_json(
        "/api/v1/uploads",
        {"key_id": info["key_id"], "header": b64(header), "size": sum(map(len, chunks))},
    )
    upload_id = created["upload_id"]
    assert first.put_chunk(upload_id, 0, chunks[0]) == 1
    assert second.put_chunk(upload_id, 2, chunks[2]) == 2  # the other process counts both
    assert first.request("GET", f"/api/v1/uploads/{upload_id}")["received"] == 2
    assert second.put_chunk(upload_id, 1, chunks[1]) == 3

    # The submission goes to the second process, with the first one's challenge solved.
    second.key_info = info
    envelope = {
        **base_envelope(),
        "files": [
            {
                "upload_id": upload_id,
                "key": b64(file_key),
                "name": "night-trucks.bin",
                "type": "application/octet-stream",
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "keep": {"location": False, "time": False},
            }
        ],
    }
    receipt = second.sealed_request("/api/v1/submissions", envelope, pow_=True)["receipt"]
    # The challenge was used up on the second process: the first one refuses it too.
    first.key_info = info
    with pytest.raises(ServerError) as reused:
        first.sealed_request("/api/v1/submissions", base_envelope() | {"files": []}, pow_=True)
    assert (reused.value.status, reused.value.code) == (403, "proof_of_work_failed")
    with shared.instance.sessions() as session:
        assert session.scalars(select(Submission.reference)).all() == [receipt]

    # A staff member signs in on the first casework and reads the submission on the second.
    staff = Browser()
    token = staff.csrf_token(one.casework + "/login")
    status, headers, _ = staff.post_form(
        one.casework + "/login",
        {
            "csrf_token": token,
            "username": "investigator",
            "password": STAFF_PASSWORD,
            "code": totp_code(shared.totp_secret),
        },
    )
    assert status == 303, headers
    assert "__Host-filon-session" in staff.cookies
    status, _, page = staff.request("GET", f"{other.casework}/submissions/{receipt}")
    assert status == 200
    assert REPORT.encode() in page
    assert b"night-trucks.bin" in page
    status, headers, body = staff.request("GET", f"{other.casework}/submissions/{receipt}/files/1")
    assert status == 200
    assert body == data  # decrypted by the second process from what both wrote

    # Signing out on the second process ends the session on the first one too: even a copy
    # of the cookie kept from before opens nothing there any more.
    stolen = staff.cookies["__Host-filon-session"]
    token = staff.csrf_token(other.casework + "/account")
    assert staff.post_form(other.casework + "/logout", {"csrf_token": token})[0] == 303
    assert "__Host-filon-session" not in staff.cookies
    staff.cookies["__Host-filon-session"] = stolen
    status, headers, _ = staff.request("GET", f"{one.casework}/submissions/{receipt}")
    assert (status, headers.get("Location")) == (303, "/login")


def test_the_no_javascript_limit_counts_requests_to_both_processes(
    shared: Shared, servers: list[Served]
) -> None:
    source = Browser()
    answers: list[int] = []
    for number in range(NOJS_LIMIT + 1):
        served = servers[number % 2]
        token = source.csrf_token(served.intake + "/")  # the form of one process
        target = servers[(number + 1) % 2]  # posted to the other: its CSRF check holds there
        boundary, body = encode_multipart(
            {"csrf_token": token, "desk": DESK, "report": f"{REPORT} {number}", "lang": "en"}
        )
        status, _, page = source.request(
            "POST", target.intake + "/submit", body, f"multipart/form-data; boundary={boundary}"
        )
        answers.append(status)
        if status == 200:
            assert re.search(rb"FLN(-[A-Z2-7]{4}){4}", page)
    assert answers == [200] * NOJS_LIMIT + [429]
    with shared.instance.sessions() as session:
        assert len(session.scalars(select(Submission.id)).all()) == NOJS_LIMIT


def test_a_process_that_stops_leaves_the_other_serving(servers: list[Served]) -> None:
    one, other = servers
    one.process.terminate()
    assert one.process.wait(timeout=30) == 0
    client = Client(other.intake)
    info = client.fetch_key()
    assert json.dumps(info)  # the survivor still signs and serves its key
    status, _, body = Browser().request("GET", other.intake + "/readyz")
    assert (status, body) == (200, b"ok\n")
