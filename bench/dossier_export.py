"""Benchmark the dossier export on 1 GiB of evidence: throughput and memory held.

Makes a fresh instance (SQLite) in a temporary folder, a desk and a member allowed to export,
then files one submission of ``--size-mib`` MiB (default 1,024) of pseudo-random bytes the
way the intake's plain form does: the bytes are sealed chunk by chunk into an incoming
stream (never held whole) and go through the real pipeline, which keeps a file too large to
clean sealed as received (``not_cleaned``). A case is opened from it, and the case is
exported with :func:`casework.dossier.export.export_case` into a file on the same disk,
fsync included. For comparison, the same number of pseudo-random bytes is written raw to the
same folder and fsynced. The script prints one line of ``key=value`` figures:

- ``export_mib_s``: MiB of dossier per second, from planning to fsync (decrypting, hashing,
  the report, the ZIP);
- ``raw_write_mib_s``: MiB per second of the raw write + fsync of as many bytes;
- ``ratio``: ``export_mib_s / raw_write_mib_s``;
- ``rss_growth_mib``: peak resident memory during the export (``VmHWM``, reset first where
  the kernel allows) minus resident memory just before it.

It exits non-zero if the dossier does not hold the file byte for byte (its SHA-256 in the
signed manifest), or if memory grew by 100 MiB or more.

Run by hand: ``PYTHONPATH=$PWD .venv/bin/python bench/dossier_export.py [--size-mib N]
[--dir DIR]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for stream_1gib, beside this file

from stream_1gib import (  # noqa: E402
    MIB,
    PseudoRandomPlaintext,
    bench_main,
    memory_status,
    plaintext_sha256,
    reset_peak_rss,
)

from casework import cases  # noqa: E402
from casework.dossier.export import ExportOptions, export_case  # noqa: E402
from crypto.stream import CHUNK_SIZE, StreamWriter, new_stream_key  # noqa: E402
from filon.accounts import DeskGrant, create_user, get_user, unlock_user_key  # noqa: E402
from filon.db import transaction  # noqa: E402
from filon.desks import create_desk  # noqa: E402
from filon.instance import Instance, init_instance  # noqa: E402
from filon.models import Role  # noqa: E402
from intake.submission import IncomingFile, submit  # noqa: E402

RSS_LIMIT_MIB = 100
REPO = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throwaway account in a temp folder


def seal_incoming(instance: Instance, size: int) -> IncomingFile:
    """Seal ``size`` pseudo-random bytes into an incoming stream, as the plain form does."""
    key = new_stream_key()
    blob_id = instance.store.new_id()
    source = PseudoRandomPlaintext(size)
    with open(instance.store.incoming_path(blob_id), "xb") as handle:
        writer = StreamWriter(handle, key)
        while piece := source.read(CHUNK_SIZE):
            writer.write(piece)
        writer.close()
    if writer.summary is None:
        raise RuntimeError("the stream has no summary")
    return IncomingFile(
        blob_id=blob_id,
        key=key,
        stream_size=writer.summary.ciphertext_size,
        name="survey-footage.bin",
        type="application/octet-stream",
        claimed_size=None,
        claimed_sha256=None,
        sealed_here=writer.summary,
    )


def make_case(instance: Instance, size: int) -> int:
    """A desk, an exporting member, one large submission and a case made of it."""
    with transaction(instance.sessions) as session:
        desk, key = create_desk(
            session,
            slug="bench",
            name="Bench desk",
            recovery_public_key=instance.settings.recovery_public_key,
        )
        create_user(
            session,
            username="exporter",
            role=Role.JOURNALIST,
            password=PASSWORD,
            grants=[DeskGrant(desk, key, can_export=True)],
        )
    outcome = submit(
        instance,
        desk_slug="bench",
        lang="en",
        answers={"report": "A large survey video (benchmark)."},
        files=[seal_incoming(instance, size)],
        codename=None,
    )
    with transaction(instance.sessions) as session:
        user = get_user(session, "exporter")
        case = cases.create_case(
            session, user=user, references=[outcome.receipt], title="Benchmark case"
        )
        return case.id


def raw_write_seconds(path: Path, size: int) -> float:
    """Write ``size`` pseudo-random bytes to ``path`` and fsync them; the seconds it took."""
    source = PseudoRandomPlaintext(size, seed=2)
    started = time.perf_counter()
    with open(path, "wb") as target:
        while piece := source.read(CHUNK_SIZE):
            target.write(piece)
        target.flush()
        os.fsync(target.fileno())
    seconds = time.perf_counter() - started
    path.unlink()
    return seconds


def run(size: int, workdir: Path) -> tuple[dict[str, str], bool]:
    instance = init_instance(workdir / "instance").instance
    try:
        case_id = make_case(instance, size)
        with instance.sessions() as session:
            user = get_user(session, "exporter")
        user_key = unlock_user_key(user, PASSWORD)
        out_path = workdir / "dossier.zip"
        peak_reset = reset_peak_rss()
        before = memory_status()
        started = time.perf_counter()
        with open(out_path, "wb") as out:
            dossier = export_case(
                instance.sessions,
                out,
                store=instance.store,
                signing_key=instance.keyring.signing_key(),
                user=user,
                user_key=user_key,
                case_id=case_id,
                options=ExportOptions(include_not_cleaned=True),
            )
            out.flush()
            os.fsync(out.fileno())
        export_seconds = time.perf_counter() - started
        after = memory_status()
    finally:
        instance.close()
    zip_size = out_path.stat().st_size
    manifest = json.loads(dossier.manifest)
    [evidence] = [f for f in manifest["files"] if f["path"].startswith("evidence/")]
    with zipfile.ZipFile(out_path) as archive:
        info = archive.getinfo(evidence["path"])
        intact = (
            info.file_size == evidence["size"] == size
            and evidence["sha256"] == plaintext_sha256(size)
            and archive.read("manifest.json") == dossier.manifest
        )
        digest = hashlib.sha256()
        with archive.open(evidence["path"]) as stored:
            while piece := stored.read(CHUNK_SIZE):
                digest.update(piece)
        intact = intact and digest.hexdigest() == evidence["sha256"]
    out_path.unlink()
    raw_seconds = raw_write_seconds(workdir / "raw.bin", zip_size)
    export_rate = zip_size / MIB / export_seconds
    raw_rate = zip_size / MIB / raw_seconds
    growth_mib = (after["VmHWM"] - before["VmRSS"]) / 1024
    figures = {
        "size_mib": f"{size / MIB:g}",
        "zip_mib": f"{zip_size / MIB:.1f}",
        "export_s": f"{export_seconds:.2f}",
        "export_mib_s": f"{export_rate:.1f}",
        "raw_write_mib_s": f"{raw_rate:.1f}",
        "ratio": f"{export_rate / raw_rate:.2f}",
        "rss_growth_mib": f"{growth_mib:.1f}",
        "rss_before_mib": f"{before['VmRSS'] / 1024:.1f}",
        "peak_reset": str(int(peak_reset)),
        "sha256_ok": str(int(intact)),
    }
    return figures, intact and growth_mib < RSS_LIMIT_MIB


if __name__ == "__main__":
    sys.exit(
        bench_main(
            run,
            description=__doc__.split("\n\n", 1)[0],
            prefix="bench-dossier-",
            size_help="evidence size in MiB",
        )
    )
