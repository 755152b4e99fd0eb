"""``GET /api/v1/key``: exactly the contract of DESIGN.md §4 step 1, and the app's hardening."""

from __future__ import annotations

import base64
import hashlib

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crypto.keys import fingerprint
from crypto.signing import verify_detached
from filon.instance import Instance
from filon.models import PowChallenge

CONTRACT_KEYS = {
    "key_id",
    "public_key",
    "signature",
    "signing_key",
    "chunk_size",
    "pow",
    "max_file_bytes",
    "source_kdf",
}


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def test_key_answers_the_contract(intake_client: FlaskClient, instance: Instance) -> None:
    response = intake_client.get("/api/v1/key")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == CONTRACT_KEYS
    public_key = _b64(body["public_key"])
    signing_key = _b64(body["signing_key"])
    assert len(public_key) == 32
    assert len(signing_key) == 32
    assert body["key_id"] == fingerprint(public_key)
    verify_detached(public_key, _b64(body["signature"]), signing_key)
    assert signing_key == instance.keyring.signing_key().public
    assert body["chunk_size"] == 1048576
    assert body["max_file_bytes"] == instance.settings.max_file_bytes
    assert set(body["pow"]) == {"challenge", "difficulty"}
    assert len(_b64(body["pow"]["challenge"])) == 32
    assert body["pow"]["difficulty"] == instance.settings.pow_difficulty
    kdf = body["source_kdf"]
    assert set(kdf) == {"salt", "opslimit", "memlimit"}
    assert _b64(kdf["salt"]) == instance.settings.source_kdf_salt
    assert (kdf["opslimit"], kdf["memlimit"]) == (
        instance.settings.source_kdf.opslimit,
        instance.settings.source_kdf.memlimit,
    )


def test_each_answer_has_a_fresh_challenge_stored_only_as_its_hash(
    intake_client: FlaskClient, instance: Instance
) -> None:
    first = intake_client.get("/api/v1/key").get_json()["pow"]["challenge"]
    second = intake_client.get("/api/v1/key").get_json()["pow"]["challenge"]
    assert first != second
    with instance.sessions() as session:
        stored = set(session.scalars(select(PowChallenge.challenge_hash)))
    assert stored == {hashlib.sha256(_b64(c)).hexdigest() for c in (first, second)}


def test_key_follows_rotation(intake_client: FlaskClient, instance: Instance) -> None:
    before = intake_client.get("/api/v1/key").get_json()
    instance.keyring.rotate_intake_key()
    after = intake_client.get("/api/v1/key").get_json()
    assert after["key_id"] != before["key_id"]
    verify_detached(_b64(after["public_key"]), _b64(after["signature"]), _b64(after["signing_key"]))


def test_key_is_never_cached(intake_client: FlaskClient) -> None:
    assert intake_client.get("/api/v1/key").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    ],
)
def test_security_headers(intake_client: FlaskClient, header: str, value: str) -> None:
    for path in ("/", "/api/v1/key", "/api/v1/missing"):
        assert intake_client.get(path).headers[header] == value


def _csp(intake_client: FlaskClient, path: str) -> dict[str, str]:
    csp = intake_client.get(path).headers["Content-Security-Policy"]
    assert "http" not in csp  # no third-party host anywhere
    return dict(part.strip().split(" ", 1) for part in csp.split(";"))


@pytest.mark.parametrize("path", ["/safety", "/api/v1/key", "/api/v1/missing"])
def test_csp_allows_only_our_origin(intake_client: FlaskClient, path: str) -> None:
    directives = _csp(intake_client, path)
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("path", ["/", "/replies"])
def test_pages_that_seal_may_also_compile_webassembly_and_nothing_more(
    intake_client: FlaskClient, path: str
) -> None:
    directives = _csp(intake_client, path)
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"
    assert directives["default-src"] == "'self'"
    assert "'unsafe-inline'" not in " ".join(directives.values())


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/nothing-here", 404, "not_found"),
        ("POST", "/api/v1/key", 405, "method_not_allowed"),
        ("DELETE", "/api/v1/key", 405, "method_not_allowed"),
    ],
)
def test_api_errors_are_json(
    intake_client: FlaskClient, method: str, path: str, status: int, code: str
) -> None:
    response = intake_client.open(path, method=method)
    assert response.status_code == status
    body = response.get_json()
    assert body["error"] == code
    assert body["message"]


def test_first_pages_render(intake_client: FlaskClient, casework_app) -> None:  # noqa: ANN001
    assert b"Send evidence safely" in intake_client.get("/").data
    assert casework_app.test_client().get("/").status_code == 303  # to sign-in
    page = casework_app.test_client().get("/login")
    assert page.status_code == 200
    assert b"Filon casework" in page.data
    assert page.headers["X-Frame-Options"] == "DENY"
