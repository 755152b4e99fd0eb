"""Benchmark ``filon-stream/1`` on a large file: throughput both ways and memory held.

Streams ``--size-mib`` MiB (default 1,024) of pseudo-random plaintext, made on the fly by a
readable object and never held whole, through :func:`crypto.stream.encrypt_stream` into a
file, then :func:`crypto.stream.decrypt_stream` from that file into a sink that only hashes.
It checks the SHA-256 of what came out against the plaintext, deletes the file, and prints
one line of ``key=value`` figures:

- ``encrypt_mib_s``: plaintext MiB per second from the generator to the file, fsync included
  (the bytes are on disk when the clock stops);
- ``decrypt_mib_s``: plaintext MiB per second from the file into the hashing sink, with the
  file's pages dropped from the page cache first, so it is read from disk;
- ``rss_growth_mib``: peak resident memory during both passes (``VmHWM`` at the end) minus
  resident memory just before them (``VmRSS``, after imports and after the generator exists).
  The peak is reset through ``/proc/self/clear_refs`` where the kernel allows it, so an earlier
  peak cannot count; ``hwm_before_mib`` shows the peak the baseline started from.

Streaming must hold one chunk in flight, never the file: the script exits non-zero if the
growth reaches 32 MiB (or if the plaintext does not survive the round trip).

Run by hand: ``.venv/bin/python bench/stream_1gib.py [--size-mib N] [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from crypto.stream import CHUNK_SIZE, decrypt_stream, encrypt_stream, new_stream_key, stream_size

MIB = 1024 * 1024
RSS_LIMIT_MIB = 32
REPO = Path(__file__).resolve().parent.parent
POOL_BYTES = 4 * MIB


class PseudoRandomPlaintext:
    """A readable source of ``size`` pseudo-random bytes that never holds them all.

    Every read is a slice of a fixed random pool starting at an offset chosen by a linear
    congruential sequence, so producing a byte costs about a memory copy: the figures measure
    the stream format, not the generator. The same seed gives the same bytes.
    """

    def __init__(self, size: int, seed: int = 1) -> None:
        self._left = size
        self._state = seed
        # Not a secret: any incompressible-looking bytes will do, and a seed makes them repeatable.
        self._pool = hashlib.shake_256(seed.to_bytes(8, "big")).digest(POOL_BYTES)

    def read(self, size: int = -1, /) -> bytes:
        """Return the next ``size`` bytes (at most one chunk), or ``b""`` at the end."""
        size = min(self._left, CHUNK_SIZE if size < 0 else size, CHUNK_SIZE)
        self._state = (self._state * 6364136223846793005 + 1442695040888963407) % 2**64
        offset = (self._state >> 33) % (POOL_BYTES - CHUNK_SIZE)
        self._left -= size
        return self._pool[offset : offset + size]


class HashingSink:
    """A writable sink that keeps only the SHA-256 and the length of what it is given."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return len(data)


def memory_status() -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of this process, in KiB, from ``/proc/self/status``."""
    figures = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                figures[name] = int(value.split()[0])
    return figures


def reset_peak_rss() -> bool:
    """Make ``VmHWM`` start again from the current RSS (Linux ≥ 4.0); return whether it did."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def plaintext_sha256(size: int) -> str:
    """SHA-256 of the generator's output, computed on its own, outside the timed passes."""
    source, sha = PseudoRandomPlaintext(size), hashlib.sha256()
    while piece := source.read(CHUNK_SIZE):
        sha.update(piece)
    return sha.hexdigest()


def run(size: int, workdir: Path) -> tuple[dict[str, str], bool]:
    """Encrypt to ``workdir``, decrypt back, and return the figures and whether all held."""
    key = new_stream_key()
    path = workdir / "stream.fln"
    source = PseudoRandomPlaintext(size)
    sink = HashingSink()

    peak_reset = reset_peak_rss()
    before = memory_status()

    started = time.perf_counter()
    with open(path, "wb") as target:
        written = encrypt_stream(source, target, key)
        target.flush()
        synced = time.perf_counter()
        os.fsync(target.fileno())
        fsync_seconds = time.perf_counter() - synced
        # Drop the file from the page cache so that decryption reads it from disk.
        os.posix_fadvise(target.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    encrypt_seconds = time.perf_counter() - started

    started = time.perf_counter()
    with open(path, "rb") as stored:
        read = decrypt_stream(stored, sink, key, expected_size=path.stat().st_size)
    decrypt_seconds = time.perf_counter() - started

    after = memory_status()
    path.unlink()

    expected_sha = plaintext_sha256(size)
    intact = (
        written.ciphertext_size == stream_size(size) == read.ciphertext_size
        and written.plaintext_size == read.plaintext_size == sink.size == size
        and written.plaintext_sha256
        == read.plaintext_sha256
        == sink.sha256.hexdigest()
        == expected_sha
    )
    growth_mib = (after["VmHWM"] - before["VmRSS"]) / 1024
    figures = {
        "size_mib": f"{size / MIB:g}",
        "encrypt_mib_s": f"{size / MIB / encrypt_seconds:.1f}",
        "decrypt_mib_s": f"{size / MIB / decrypt_seconds:.1f}",
        "fsync_s": f"{fsync_seconds:.2f}",
        "rss_growth_mib": f"{growth_mib:.1f}",
        "rss_before_mib": f"{before['VmRSS'] / 1024:.1f}",
        "hwm_before_mib": f"{before['VmHWM'] / 1024:.1f}",
        "hwm_after_mib": f"{after['VmHWM'] / 1024:.1f}",
        "peak_reset": str(int(peak_reset)),
        "sha256_ok": str(int(intact)),
    }
    return figures, intact and growth_mib < RSS_LIMIT_MIB


def bench_main(
    run: Callable[[int, Path], tuple[dict[str, str], bool]],
    *,
    description: str,
    prefix: str,
    size_help: str,
) -> int:
    """Parse ``--size-mib`` and ``--dir``, run in a temporary folder, print one line of figures.

    The exit status is 0 only when ``run`` says its checks and memory target held.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size-mib", type=int, default=1024, help=size_help)
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to work (default: a temporary folder under the repo's build/)",
    )
    args = parser.parse_args()
    if args.size_mib < 1:
        raise SystemExit("--size-mib must be at least 1")
    if args.dir is None:
        parent = REPO / "build"  # gitignored, and on the same disk as the repo
        parent.mkdir(exist_ok=True)
    else:
        parent = args.dir
    with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as workdir:
        figures, ok = run(args.size_mib * MIB, Path(workdir))
    print(" ".join(f"{name}={value}" for name, value in figures.items()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(
        bench_main(
            run,
            description=__doc__.split("\n\n", 1)[0],
            prefix="bench-stream-",
            size_help="plaintext size in MiB",
        )
    )
