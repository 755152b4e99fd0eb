"""A bounded load test on localhost: sources uploading and submitting while staff browse.

    python bench/load_test.py [--seconds 120] [--sources 50] [--staff 10] [--file-mib 20]
                              [--database sqlite|postgresql]

``filon serve`` runs as a real process on a new instance (one desk, ``--staff`` investigators).
Sources, spread over several processes (the client is Python: one process would measure its
own GIL), each send a ``--file-mib`` MiB file through the intake protocol v1 (announce, one
request per 1 MiB chunk, proof of work, sealed submission), again and again until the time
is up. Staff sign in with password and TOTP, then read the inbox, submissions and the audit
trail. Every request's latency is kept; the last line gives the percentiles and the errors.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyotp  # noqa: E402

from tests.client.filon_client import Client, FileToSend, ServerError, b64  # noqa: E402

DESK = "drc-minerals"
PASSWORD = "load-test-password-not-secret"  # noqa: S105 - a throwaway instance
RECEIPT = re.compile(rb"FLN(?:-[A-Z2-7]{4}){4}")


@dataclass
class Sample:
    """One request: who made it, what it was, how long it took, and whether it failed."""

    who: str  # "source" or "staff"
    what: str
    ms: float
    error: str | None = None


# -- the server ---------------------------------------------------------------------------------


def make_instance(folder: Path, database_url: str | None, staff: int) -> list[tuple[str, str]]:
    """A new instance with the desk and ``staff`` investigators; their names and TOTP secrets."""
    from filon.accounts import DeskGrant, create_user  # noqa: PLC0415
    from filon.db import transaction  # noqa: PLC0415
    from filon.desks import create_desk  # noqa: PLC0415
    from filon.instance import init_instance  # noqa: PLC0415
    from filon.models import Role  # noqa: PLC0415

    created = init_instance(folder / "instance", database_url=database_url)
    instance = created.instance
    accounts = []
    with transaction(instance.sessions) as session:
        desk, key = create_desk(
            session,
            slug=DESK,
            name="DR Congo minerals",
            recovery_public_key=instance.settings.recovery_public_key,
        )
        for number in range(staff):
            made = create_user(
                session,
                username=f"investigator{number}",
                role=Role.INVESTIGATOR,
                password=PASSWORD,
                grants=[DeskGrant(desk, key)],
            )
            accounts.append((f"investigator{number}", made.totp_secret))
    instance.close()
    return accounts


def serve(instance_dir: Path) -> tuple[subprocess.Popen[str], str, str]:
    """Start ``filon serve``; the process and the intake and casework URLs."""
    process = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "filon", "serve", "--instance", str(instance_dir)]
        + ["--host", "127.0.0.1", "--intake-port", "0", "--casework-port", "0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if process.stdout is None:
        raise RuntimeError("no output from filon serve")
    urls: dict[str, str] = {}
    while len(urls) < 2:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("filon serve stopped before listening")
        name, _, url = line.partition(": ")
        if name in ("intake", "casework"):
            urls[name] = url.strip()
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, urls["intake"], urls["casework"]


# -- sources ------------------------------------------------------------------------------------


def timed(samples: list[Sample], who: str, what: str, call: Any, *args: Any) -> Any:
    """``call(*args)``, its latency and any failure kept in ``samples``."""
    start = time.perf_counter()
    try:
        result = call(*args)
    except (OSError, ServerError, ValueError) as exc:
        samples.append(Sample(who, what, (time.perf_counter() - start) * 1000, repr(exc)[:200]))
        raise
    samples.append(Sample(who, what, (time.perf_counter() - start) * 1000))
    return result


def source(url: str, file_mib: int, deadline: float, seed: int) -> list[Sample]:
    """Send files until the deadline: announce, chunks, proof of work, sealed submission."""
    samples: list[Sample] = []
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    client = Client(url, shuffle_chunks=False)
    data = rng.randbytes(file_mib * 1024 * 1024)
    key, header, chunks = client.encrypt(data)
    template = client.file_entry("", key, FileToSend("ledger.bin", "", data))  # hashed once
    while time.monotonic() < deadline:
        try:
            timed(samples, "source", "key", client.fetch_key)
            created = timed(
                samples,
                "source",
                "announce",
                lambda: client.post_json(
                    "/api/v1/uploads",
                    {
                        "key_id": client.key_info["key_id"],
                        "header": b64(header),
                        "size": sum(map(len, chunks)),
                    },
                ),
            )
            upload = created["upload_id"]
            for index, chunk in enumerate(chunks):
                timed(samples, "source", "chunk", client.put_chunk, upload, index, chunk)
            entry = {**template, "upload_id": upload}
            timed(samples, "source", "key", client.fetch_key)  # a fresh challenge
            envelope = {
                "v": 1,
                "desk": DESK,
                "lang": "fr",
                "codename": None,
                "answers": {"report": "Rapport de charge: des sacs pesés à la barrière."},
                "files": [entry],
            }
            # Sealing and the proof of work are the source's phone's time, not the server's.
            payload, _ = client.seal_envelope(envelope, pow_=True)
            timed(samples, "source", "submit", client.post_json, "/api/v1/submissions", payload)
        except (OSError, ServerError, ValueError):
            time.sleep(1)  # counted; a real client backs off too
    return samples


# -- staff --------------------------------------------------------------------------------------


class Browser:
    """One staff member's browser: a kept-alive connection and the cookies it was given."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> bytes:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        content = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        if response.status >= 400:
            raise ValueError(f"{method} {path} answered {response.status}")
        return content


def staff(url: str, username: str, totp_secret: str, deadline: float, seed: int) -> list[Sample]:
    """Sign in, then read the inbox, a submission, and now and then the audit trail."""
    samples: list[Sample] = []
    rng = random.Random(seed)  # noqa: S311 - which page to read next, not a secret
    browser = Browser(url)
    try:
        page = timed(samples, "staff", "login page", lambda: browser.request("GET", "/login"))
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)
        if token is None:
            raise ValueError("the sign-in page has no CSRF token")
        form = {
            "csrf_token": token.group(1).decode(),
            "username": username,
            "password": PASSWORD,
            "code": pyotp.TOTP(totp_secret).now(),
        }
        timed(samples, "staff", "sign in", lambda: browser.request("POST", "/login", form))
    except (OSError, ValueError):
        return samples
    while time.monotonic() < deadline:
        try:
            inbox = timed(samples, "staff", "inbox", browser.request, "GET", f"/desks/{DESK}")
            receipts = RECEIPT.findall(inbox)
            if receipts:
                receipt = rng.choice(receipts).decode()
                timed(
                    samples,
                    "staff",
                    "submission",
                    browser.request,
                    "GET",
                    f"/submissions/{receipt}",
                )
            if rng.random() < 0.2:
                timed(
                    samples,
                    "staff",
                    "audit",
                    browser.request,
                    "GET",
                    f"/desks/{DESK}/audit",
                )
        except (OSError, ValueError, http.client.HTTPException):
            browser = Browser(url)  # counted; start again on a fresh connection
            time.sleep(1)
    return samples


# -- running it ---------------------------------------------------------------------------------


def run_sources(url: str, count: int, file_mib: int, deadline: float, seed: int) -> list[Sample]:
    """``count`` sources as threads of one process."""
    results: list[list[Sample]] = [[] for _ in range(count)]

    def one(number: int) -> None:
        results[number] = source(url, file_mib, deadline, seed * 1000 + number)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [sample for listed in results for sample in listed]


def run_staff(url: str, accounts: list[tuple[str, str]], deadline: float) -> list[Sample]:
    """Every staff member as a thread of one process."""
    results: list[list[Sample]] = [[] for _ in accounts]

    def one(number: int) -> None:
        username, secret = accounts[number]
        results[number] = staff(url, username, secret, deadline, number)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(accounts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [sample for listed in results for sample in listed]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def summary(samples: list[Sample], file_mib: int, seconds: float) -> tuple[dict[str, str], int]:
    """The figures of the run, and its number of errors."""
    figures: dict[str, str] = {}
    errors = [sample for sample in samples if sample.error is not None]
    for who in ("source", "staff"):
        mine = [s.ms for s in samples if s.who == who and s.error is None]
        for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            figures[f"{who}_{name}_ms"] = f"{percentile(mine, fraction):.1f}"
        figures[f"{who}_requests"] = str(len(mine))
    submits = [s.ms for s in samples if s.what == "submit" and s.error is None]
    for name, fraction in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        figures[f"submit_{name}_ms"] = f"{percentile(submits, fraction):.1f}"
    figures["submissions"] = str(len(submits))
    figures["upload_mib_s"] = f"{len(submits) * file_mib / seconds:.1f}"
    figures["errors"] = str(len(errors))
    return figures, len(errors)


def main(argv: list[str] | None = None) -> int:
    """Run the load test; returns the number of errors (the exit code)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--staff", type=int, default=10)
    parser.add_argument("--file-mib", type=int, default=20)
    parser.add_argument("--processes", type=int, default=5, help="processes for the sources")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="filon-load-"))
    cluster = None
    try:
        database_url = None
        if args.database == "postgresql":
            from tests.postgres import Cluster, create_database  # noqa: PLC0415

            cluster = Cluster("filon-pg-load-")
            cluster.start()
            database_url = create_database(cluster.url, "filon")
        accounts = make_instance(folder, database_url, args.staff)
        process, intake_url, casework_url = serve(folder / "instance")
        try:
            start = time.monotonic()
            deadline = start + args.seconds
            per_process = [
                len(range(n, args.sources, args.processes)) for n in range(args.processes)
            ]
            with multiprocessing.get_context("fork").Pool(args.processes + 1) as pool:
                jobs = [
                    pool.apply_async(run_sources, (intake_url, n, args.file_mib, deadline, i))
                    for i, n in enumerate(per_process)
                    if n
                ]
                jobs.append(pool.apply_async(run_staff, (casework_url, accounts, deadline)))
                samples = [sample for job in jobs for sample in job.get()]
            elapsed = time.monotonic() - start
        finally:
            process.terminate()
            process.wait(timeout=60)
    finally:
        if cluster is not None:
            cluster.remove()
        shutil.rmtree(folder, ignore_errors=True)
    figures, errors = summary(samples, args.file_mib, elapsed)
    for sample in [s for s in samples if s.error is not None][:10]:
        print(f"error: {sample.who} {sample.what}: {sample.error}", file=sys.stderr)
    print(
        f"sources={args.sources} staff={args.staff} file_mib={args.file_mib} "
        f"seconds={elapsed:.0f} database={args.database}"
    )
    print(" ".join(f"{key}={value}" for key, value in figures.items()))
    return errors


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
