"""Benchmark sealing in the browser: how fast Chromium encrypts a file before it leaves.

Serves the intake app from a fresh instance (in a temporary folder) on localhost, opens the
submission page in Debian's Chromium (driven by Playwright, never a downloaded browser), makes
a 256 MiB file inside the page, and has the page's own sealing worker encrypt it exactly as a
submission does (1 MiB ``filon-stream/1`` chunks, SHA-256 of the plaintext on the way), without
uploading anything; the worker's SHA-256 of the plaintext is then checked against the
browser's own (WebCrypto). A short warm-up run comes first so WebAssembly compilation is not
timed: it seals a file large enough to be hashed in the hash worker, so that worker starts too.

Run: ``.venv/bin/python bench/browser_seal.py [--size-mib N]``. Ends with one line of
``key=value`` figures about the plaintext sealed per second: ``seal_mb_s`` in MB/s, with
MB = 10^6 bytes (the unit of the target, "MB/s (target >= 150)"), and ``seal_mib_s`` in
MiB/s (MiB = 2^20 bytes; the same speed, a number about 4.6% smaller).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.browser.chromium

from filon.db import transaction  # noqa: E402
from filon.desks import create_desk  # noqa: E402
from filon.instance import init_instance  # noqa: E402
from filon.serve import Listener, bind  # noqa: E402
from intake import create_app  # noqa: E402
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

MIB = 1024 * 1024
MB = 1000 * 1000
# Large enough to take the hash worker's path in seal-worker.js (PARALLEL_HASH_MIN_BYTES).
WARM_UP_MIB = 24

# Runs in the page: builds a file of `mib` MiB from an 8 MiB random pool (made with
# getRandomValues, 64 KiB at a time), then asks the page's sealing worker to seal it.
SEAL_IN_PAGE = """
async (mib) => {
  const pool = new Uint8Array(8 * 1024 * 1024);
  for (let at = 0; at < pool.length; at += 65536) {
    crypto.getRandomValues(pool.subarray(at, at + 65536));
  }
  const parts = [];
  for (let left = mib; left > 0; left -= 8) {
    parts.push(pool.subarray(0, Math.min(8, left) * 1024 * 1024));
  }
  const file = new File(parts, 'bench.bin', { type: 'application/octet-stream' });
  const client = document.getElementById('submission-form').sealClient;
  const result = await client.run('measure', { file });
  // Checked after the timing, by the browser's own SHA-256: the worker's must be the same.
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
  result.expectedSha256 = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  return result;
}
"""


def serve(instance_dir: Path) -> tuple[str, Any, threading.Thread]:
    """A fresh instance with one desk, its intake app served on a free localhost port."""
    created = init_instance(instance_dir)
    instance = created.instance
    with transaction(instance.sessions) as session:
        create_desk(
            session,
            slug="bench",
            name="Benchmark desk",
            recovery_public_key=created.recovery_public_key,
        )
    app = create_app(instance.settings, instance)
    server = bind(Listener("intake", app, "127.0.0.1", 0), threads=4)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.bind_addr[1]}", server, thread


def seal(page: Page, mib: int) -> dict[str, Any]:
    """Seal a file of ``mib`` MiB in the page's worker; returns the worker's figures."""
    result: dict[str, Any] = page.evaluate(SEAL_IN_PAGE, mib)
    return result


def main() -> None:
    """Run the benchmark and print one line of figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="filon-bench-") as folder:
        url, server, thread = serve(Path(folder) / "instance")
        try:
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(url + "/")
                page.locator("#js-notice").wait_for(state="visible", timeout=60_000)
                seal(page, WARM_UP_MIB)  # warm-up: both workers started, WebAssembly compiled
                result = seal(page, args.size_mib)
                version = browser.version
                browser.close()
        finally:
            server.stop()
            thread.join(timeout=10)
    seconds = result["ms"] / 1000
    expected = args.size_mib * MIB
    if result["bytes"] != expected:
        raise SystemExit(f"sealed {result['bytes']} bytes, expected {expected}")
    chunks = expected // MIB + 1
    if result["sha256"] != result["expectedSha256"]:
        raise SystemExit("the worker's SHA-256 of the plaintext is wrong")
    if result["sealedBytes"] != expected + 17 * chunks:
        raise SystemExit(f"ciphertext of {result['sealedBytes']} bytes is not filon-stream/1")
    print(
        f"seal_mb_s={expected / MB / seconds:.1f} seal_mib_s={args.size_mib / seconds:.1f} "
        f"size_mib={args.size_mib} "
        f"seconds={seconds:.2f} chunks={chunks} chromium={version}"
    )


if __name__ == "__main__":
    main()
