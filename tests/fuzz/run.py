"""Run one fuzz target under atheris: ``python -m tests.fuzz.run TARGET [libFuzzer options]``.

The modules that parse untrusted input are imported inside ``atheris.instrument_imports()``
so that the fuzzer sees their branches. The target's seeds are written to a fresh corpus
folder, which libFuzzer reads first and then grows. A crash prints the traceback and the
input (``-artifact_prefix=DIR/`` chooses where libFuzzer saves it) and exits non-zero.

Example, five minutes on the cleaners::

    python -m tests.fuzz.run cleaner -max_total_time=300 -timeout=20
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["crypto", "intake", "filon", "casework"]):
    import intake.api
    import intake.envelope
    import intake.metadata.dispatch
    import intake.nojs  # noqa: F401 - imported for instrumentation

from tests.fuzz.targets import TARGETS  # noqa: E402 - after the instrumented imports


def main(argv: list[str]) -> None:
    """Fuzz the target named by ``argv[1]``, passing the rest to libFuzzer."""
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: python -m tests.fuzz.run {{{','.join(TARGETS)}}} [libFuzzer options]")
    target = TARGETS[argv[1]]
    corpus = Path(tempfile.mkdtemp(prefix=f"filon-fuzz-{target.name}-"))
    for number, seed in enumerate(target.seeds()):
        (corpus / f"seed-{number}").write_bytes(seed)
    options = [option for option in argv[2:] if option.startswith("-")]
    atheris.Setup([argv[0], *options, str(corpus)], target.run)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
