"""Fuzz targets: each parser of untrusted input, as a function of bytes that must not crash.

A target lets through only the refusals its parser documents (a protocol error, a stream
error, a report of problems); any other exception is a crash, and so is a broken oracle:

- ``stream``: a stream that decrypts must be one we wrote with the key (Poly1305 cannot be
  forged by mutation), and its summary must match what came out.
- ``envelope``: the bytes sealed to the intake key, opened and checked as a submission and as
  a replies request; only :class:`~intake.errors.ProtocolError` may come out.
- ``protocol``: the bytes as a request to one of the intake's routes (chosen by the first
  byte); any 5xx answer is a crash.
- ``cleaner``: the metadata cleaners never raise, and whatever they call cleaned, cleaned
  again, finds nothing left to remove.
- ``dossier``: the dossier verifier names problems and never raises, on any ZIP.
- ``importers``: every register importer (IPIS, OpenStreetMap, CMRT/EMRT workbooks, smelter,
  actor and chain-link CSV) reports rows or refuses the file, never raises anything else,
  and its dry run writes nothing.

The same targets run under Hypothesis in the suite (``tests/test_fuzz.py``) and under the
coverage-guided fuzzer atheris (``tests/fuzz/run.py``), briefly in the suite and for longer
in ``bench/fuzz_long.py``. A crash found becomes a regression test in ``tests/test_fuzz.py``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from crypto.errors import StreamError
from crypto.sealing import seal
from crypto.stream import StreamReader, encrypt_stream

KEY = bytes(range(32))


@dataclass(frozen=True)
class Target:
    """One fuzz target: the function under test and the inputs a fuzzer starts from."""

    name: str
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]


# -- filon-stream/1 ----------------------------------------------------------------------------


@cache
def stream_seeds() -> list[bytes]:
    """Streams of a few sizes, all with :data:`KEY`."""
    seeds = []
    for plaintext in (b"", b"x", b"evidence " * 40):
        sink = io.BytesIO()
        encrypt_stream(io.BytesIO(plaintext), sink, KEY)
        seeds.append(sink.getvalue())
    return seeds


@cache
def _stream_plaintexts() -> dict[bytes, bytes]:
    return {stream: _decrypt(stream, None) for stream in stream_seeds()}


def _decrypt(data: bytes, expected_size: int | None) -> bytes:
    reader = StreamReader(io.BytesIO(data), KEY, expected_size=expected_size)
    plaintext = b"".join(reader)
    summary = reader.summary
    assert summary.plaintext_size == len(plaintext), "summary size differs from the plaintext"
    return plaintext


def run_stream(data: bytes) -> None:
    """Read ``data`` as a stream, with and without its expected size."""
    for expected in (None, len(data)):
        try:
            plaintext = _decrypt(data, expected)
        except StreamError:
            continue
        known = _stream_plaintexts()
        assert data in known, "a stream we never wrote decrypted"
        assert plaintext == known[data], "a stream decrypted to other bytes"


# -- sealed envelopes --------------------------------------------------------------------------


@cache
def _intake_key() -> Any:
    from crypto.keys import BoxKeyPair  # noqa: PLC0415
    from filon.keyring import IntakeKey  # noqa: PLC0415

    return IntakeKey(BoxKeyPair.generate(), bytes(64), "2026-11-22")


def envelope_seeds() -> list[bytes]:
    """A valid submission and a valid replies request, as JSON."""
    reply_to = base64.b64encode(bytes(32)).decode()
    file_key = base64.b64encode(bytes(range(32))).decode()
    submission = {
        "v": 1,
        "desk": "drc-minerals",
        "lang": "fr",
        "answers": {"report": "Des soldats prennent deux sacs."},
        "files": [
            {
                "upload_id": "u" * 32,
                "key": file_key,
                "name": "barrier.jpg",
                "type": "image/jpeg",
                "size": 1234,
                "sha256": "ab" * 32,
                "keep": {"location": True, "time": False},
            }
        ],
        "reply_to": reply_to,
        "codename": None,
    }
    replies = {"v": 1, "reply_to": reply_to, "codename": "amber-coltan-river-7"}
    return [json.dumps(submission).encode(), json.dumps(replies).encode()]


def run_envelope(data: bytes) -> None:
    """Seal ``data`` to the intake key, then open and check it as the intake does."""
    from intake.envelope import open_envelope, parse_replies, parse_submission  # noqa: PLC0415
    from intake.errors import ProtocolError  # noqa: PLC0415

    key = _intake_key()
    for sealed_b64 in (base64.b64encode(seal(data, key.keypair.public)).decode(), data.hex()):
        try:
            opened = open_envelope(sealed_b64, key)
        except ProtocolError:
            continue
        for parse in (lambda d: parse_submission(d, max_file_bytes=1 << 30), parse_replies):
            with contextlib.suppress(ProtocolError):
                parse(opened)


# -- the intake's routes -----------------------------------------------------------------------


@cache
def _intake() -> Any:
    """An intake app on a throwaway instance with one desk and one open upload."""
    from filon.db import transaction  # noqa: PLC0415
    from filon.desks import create_desk  # noqa: PLC0415
    from filon.instance import init_instance  # noqa: PLC0415
    from intake import create_app  # noqa: PLC0415

    folder = Path(tempfile.mkdtemp(prefix="filon-fuzz-"))
    created = init_instance(folder / "instance", pow_difficulty=0)
    instance = created.instance
    with transaction(instance.sessions) as session:
        create_desk(
            session,
            slug="drc-minerals",
            name="DR Congo minerals",
            recovery_public_key=instance.settings.recovery_public_key,
        )
    app = create_app(instance.settings, instance)
    client = app.test_client()
    key_id = client.get("/api/v1/key").get_json()["key_id"]
    header = base64.b64encode(bytes(24)).decode()
    made = client.post("/api/v1/uploads", json={"key_id": key_id, "size": 64, "header": header})
    assert made.status_code == 201, made.get_data(as_text=True)
    return client, made.get_json()["upload_id"], key_id.encode()


ROUTES = (
    ("POST", "/api/v1/uploads", "application/json"),
    ("PUT", "/api/v1/uploads/{upload}/0", "application/octet-stream"),
    ("PUT", "/api/v1/uploads/{upload}/1", "application/octet-stream"),
    ("GET", "/api/v1/uploads/{upload}", None),
    ("POST", "/api/v1/submissions", "application/json"),
    ("POST", "/api/v1/replies", "application/json"),
    ("POST", "/submit", "multipart/form-data; boundary=fuzz"),
    ("POST", "/submit", "application/x-www-form-urlencoded"),
    ("GET", "/api/v1/uploads/{text}", None),
)


def protocol_seeds() -> list[bytes]:
    """A body for each route that gets past its first checks."""
    multipart = (
        b'--fuzz\r\nContent-Disposition: form-data; name="desk"\r\n\r\ndrc-minerals\r\n'
        b'--fuzz\r\nContent-Disposition: form-data; name="report"\r\n\r\nDes soldats.\r\n'
        b'--fuzz\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--fuzz--\r\n"
    )
    bodies = [
        b'{"key_id": "KEYID", "size": 10, "header": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}',
        b"\x00" * 64,
        b"",
        b"",
        b'{"key_id": "KEYID", "envelope": "AAAA", "pow": {"challenge": "AAAA", "nonce": 1}}',
        b'{"key_id": "KEYID", "envelope": "AAAA"}',
        multipart,
        b"desk=drc-minerals&report=Des+soldats",
        b"../../etc/passwd",
    ]
    return [bytes([index]) + body for index, body in enumerate(bodies)]


def run_protocol(data: bytes) -> None:
    """Send ``data[1:]`` to the route ``data[0]`` picks; the intake must not answer 5xx."""
    if not data:
        return
    client, upload, key_id = _intake()
    method, path, content_type = ROUTES[data[0] % len(ROUTES)]
    body = data[1:].replace(b"KEYID", key_id)
    text = body.decode("utf-8", "replace").replace("/", "%2F").replace("?", "%3F")[:200]
    url = path.format(upload=upload, text=text or "x")
    headers = {"Content-Type": content_type} if content_type else {}
    answer = client.open(url, method=method, data=body, headers=headers)
    assert answer.status_code < 500, f"{method} {url} answered {answer.status_code}"


# -- metadata cleaners -------------------------------------------------------------------------

CLEANER_NAMES = (
    "a.jpg",
    "a.png",
    "a.gif",
    "a.webp",
    "a.tif",
    "a.docx",
    "a.xlsx",
    "a.odt",
    "a.pdf",
    "a.mp4",
)


@cache
def cleaner_seeds() -> list[bytes]:
    """Pictures and documents the cleaners accept, made without external tools."""
    from tests.samples import make  # noqa: PLC0415

    small = make.picture((24, 16))
    seeds = [
        make.jpeg_with_pillow_exif(),
        make.encoded(small, "PNG"),
        make.encoded(small, "GIF"),
        make.encoded(small, "WEBP"),
        make.encoded(small, "TIFF"),
        make.docx(),
        make.xlsx(),
        make.odt(),
    ]
    return [bytes([index]) + seed for index, seed in enumerate(seeds)]


def run_cleaner(data: bytes) -> None:
    """Clean ``data[1:]`` named by ``data[0]``; what is called clean must stay clean."""
    from intake.metadata.dispatch import clean_bytes  # noqa: PLC0415
    from intake.metadata.outcome import STATUSES  # noqa: PLC0415

    if not data:
        return
    name = CLEANER_NAMES[data[0] % len(CLEANER_NAMES)]
    outcome = clean_bytes(data[1:], filename=name, declared_type="")
    assert outcome.status in STATUSES
    if outcome.status == "not_cleaned":
        assert outcome.reason, "a file not cleaned carries no reason"
        assert outcome.data == b"", "a file not cleaned carries output"
        return
    assert outcome.reason is None
    if outcome.status == "cleaned":
        # Unnamed, so that only what the file holds is reported, not what its name claims.
        again = clean_bytes(outcome.data, filename="cleaned", declared_type="")
        assert again.status == "nothing_to_clean", f"cleaned output cleaned again: {again}"
        assert not again.found, f"cleaned output still holds {again.found}"


# -- the dossier verifier ----------------------------------------------------------------------


@cache
def dossier_seeds() -> list[bytes]:
    """A small ZIP laid out like a dossier (its signature does not hold, which is fine)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps({"format": "filon-dossier/1", "files": []}))
        archive.writestr("manifest.sig", base64.b64encode(bytes(64)))
        archive.writestr("evidence/1-photo.jpg", b"\xff\xd8\xff" + bytes(40))
    return [buffer.getvalue()]


def run_dossier(data: bytes) -> None:
    """Verify ``data`` as a dossier: a list of problems, never an exception."""
    from filon.dossier_verify import verify  # noqa: PLC0415

    problems = verify(io.BytesIO(data))
    assert isinstance(problems, list)
    assert problems, "a fuzzed dossier verified"


# -- the register importers ---------------------------------------------------------------------

SAMPLES = Path(__file__).resolve().parents[2] / "casework" / "registers" / "samples"
# The first byte of an input picks the importer and the file's name, as the CLI would see it.
IMPORTS = (
    ("sites", "visits.csv"),
    ("sites", "sites.geojson"),
    ("actors", "smelters.xlsx"),
    ("actors", "actors.csv"),
    ("links", "links.csv"),
)


@cache
def importer_seeds() -> list[bytes]:
    """The shipped samples' first rows, and a CMRT workbook, each tagged for its importer."""
    from casework.registers.samples.make_rmi_sample import write_cmrt  # noqa: PLC0415

    def head(name: str, lines: int = 4) -> bytes:
        return b"".join((SAMPLES / name).read_bytes().splitlines(keepends=True)[:lines])

    def first_features(name: str) -> bytes:
        document = json.loads((SAMPLES / name).read_bytes())
        document["features"] = document["features"][:2]
        return json.dumps(document).encode()

    with tempfile.TemporaryDirectory() as folder:
        workbook = write_cmrt(Path(folder) / "cmrt.xlsx").read_bytes()
    return [
        b"\x00" + head("ipis_sample.csv"),
        b"\x01" + first_features("ipis_sample.geojson"),
        b"\x01" + first_features("osm_sample.geojson"),
        b"\x02" + workbook,
        b"\x03" + head("actors_sample.csv"),
        b"\x03" + head("smelters_sample.csv"),
        b"\x04" + head("links_sample.csv"),
    ]


@cache
def _register_sessions() -> Any:
    """Sessions on an in-memory database holding every table (one connection, reused)."""
    from sqlalchemy import create_engine  # noqa: PLC0415
    from sqlalchemy.pool import StaticPool  # noqa: PLC0415

    import casework.models  # noqa: F401, PLC0415 - registers the casework tables
    from filon.db import Base, make_session_factory  # noqa: PLC0415

    engine = create_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    return make_session_factory(engine)


def run_importers(data: bytes) -> None:
    """Import ``data[1:]`` as a dry run with the importer ``data[0]`` picks.

    Whatever the file holds, the importer reports rows or refuses the file with
    :class:`~filon.errors.FilonError`; a dry run leaves the database as it was.
    """
    from sqlalchemy import func, select  # noqa: PLC0415

    from casework.models import Actor, ChainLink, MineSite  # noqa: PLC0415
    from casework.registers import detect, links  # noqa: PLC0415
    from filon.errors import FilonError  # noqa: PLC0415

    if not data:
        return
    importer, name = IMPORTS[data[0] % len(IMPORTS)]
    sessions = _register_sessions()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data[1:])
        try:
            if importer == "sites":
                detect.import_sites_file(sessions, path, dataset=None, dry_run=True)
            elif importer == "actors":
                detect.import_actors_file(sessions, path, dataset=None, dry_run=True)
            else:
                links.import_file(sessions, path, dry_run=True)
        except FilonError:
            pass
    with sessions() as session:
        for model in (MineSite, Actor, ChainLink):
            count = session.scalar(select(func.count()).select_from(model))
            assert count == 0, f"a dry run left {count} {model.__tablename__}"


TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target("stream", run_stream, stream_seeds),
        Target("envelope", run_envelope, envelope_seeds),
        Target("protocol", run_protocol, protocol_seeds),
        Target("cleaner", run_cleaner, cleaner_seeds),
        Target("dossier", run_dossier, dossier_seeds),
        Target("importers", run_importers, importer_seeds),
    )
}
