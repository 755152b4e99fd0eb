"""Every parser of untrusted input, fuzzed: Hypothesis here, and atheris for a short budget.

The targets and their oracles live in :mod:`tests.fuzz.targets`. Hypothesis feeds each one
random bytes and mutations of its seeds; atheris (coverage-guided) runs each for a few
seconds in a subprocess, so that a crash in a C extension cannot take pytest down with it.
``bench/fuzz_long.py`` runs the same targets for longer. A crash either finds becomes a
regression test at the end of this file.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from crypto.stream import encrypt_stream
from tests.fuzz.targets import KEY, TARGETS, run_stream
from tests.test_dossier_verify import assemble

ROOT = Path(__file__).resolve().parent.parent
# Seconds of atheris per target in the suite; bench/fuzz_long.py gives each minutes.
SUITE_SECONDS = int(os.environ.get("FILON_FUZZ_SECONDS", "6"))


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few bytes flipped, inserted or removed, or cut short."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 8))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        if action == "flip" and where < len(data):
            data[where] ^= draw(st.integers(1, 255))
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[where : where + draw(st.integers(1, 16))]
        elif action == "cut":
            del data[where:]
    return bytes(data)


def inputs(name: str) -> st.SearchStrategy[bytes]:
    """Random bytes, and mutations of the target's seeds."""
    return st.one_of(st.binary(max_size=512), mutated(TARGETS[name].seeds()))


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_hypothesis_finds_no_crash(name: str) -> None:
    target = TARGETS[name]

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(inputs(name))
    def check(data: bytes) -> None:
        target.run(data)

    check()


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_seed_passes_its_target(name: str) -> None:
    # A seed that failed would make every fuzzer report the same crash at once.
    seeds = TARGETS[name].seeds()
    assert seeds
    for seed in seeds:
        TARGETS[name].run(seed)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_atheris_finds_no_crash(name: str, tmp_path: Path) -> None:
    run = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [
            sys.executable,
            "-m",
            "tests.fuzz.run",
            name,
            f"-max_total_time={SUITE_SECONDS}",
            "-timeout=30",
            "-rss_limit_mb=2048",
            f"-artifact_prefix={tmp_path}/",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=SUITE_SECONDS + 120,
        check=False,
    )
    crashes = sorted(path.name for path in tmp_path.iterdir())
    assert not crashes, (crashes, run.stderr[-4000:])
    assert run.returncode == 0, run.stderr[-4000:]
    assert "Done " in run.stderr, run.stderr[-2000:]
    runs = int(run.stderr.rsplit("Done ", 1)[1].split()[0])
    assert runs > 100, f"atheris ran {name} only {runs} times"


# -- the oracles can fail -----------------------------------------------------------------------


def test_the_stream_oracle_catches_a_stream_it_never_saw() -> None:
    # A genuine stream with the fuzzing key but not among the seeds stands for a forgery.
    sink = io.BytesIO()
    encrypt_stream(io.BytesIO(b"not a seed"), sink, KEY)
    with pytest.raises(AssertionError, match="never wrote"):
        run_stream(sink.getvalue())


def test_the_dossier_oracle_catches_a_dossier_that_verifies(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = assemble(tmp_path / "good.zip", key)
    with pytest.raises(AssertionError, match="verified"):
        TARGETS["dossier"].run(path.read_bytes())


# -- regressions: inputs the fuzzers once crashed on --------------------------------------------
