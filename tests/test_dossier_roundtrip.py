"""Issue 6's round trip: a case exported by Filon verifies with `filon verify` and with the
`verify.py` inside it (in a fresh virtual environment holding only PyNaCl), and any change —
one byte of any file, of the manifest or of the signature, a file added or removed — makes
both fail with the problem named.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crypto.keys import fingerprint, format_fingerprint
from filon.instance import Instance
from tests.conftest import DeskSetup
from tests.test_dossier_export import export, world  # noqa: F401 - world is a fixture
from tests.test_dossier_verify import (
    Members,
    both,
    bundled_verifier,
    flip,
    fresh_python,  # noqa: F401 - a fixture
    read_members,
    rewrite,
)


@pytest.fixture
def exported(instance: Instance, world: dict[str, object], tmp_path: Path) -> Path:  # noqa: F811
    path = tmp_path / "dossier.zip"
    path.write_bytes(export(instance, int(world["case"])))  # type: ignore[call-overload]
    return path


def test_an_exported_case_verifies_with_both_verifiers(
    exported: Path,
    instance: Instance,
    desk: DeskSetup,
    fresh_python: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    signer = fingerprint(instance.keyring.signing_key().public)
    verifier = bundled_verifier(exported, tmp_path / "reader")
    for args in ((), ("--fingerprint", signer), ("--fingerprint", format_fingerprint(signer))):
        for result in both(fresh_python, verifier, exported, *args):
            assert result.returncode == 0, result.stdout + result.stderr
            assert "is intact" in result.stdout


def every_change(members: Members) -> list[tuple[str, Callable[[Members], Members], str]]:
    """One byte of each file, the manifest and the signature; a file added; each removed."""
    changes: list[tuple[str, Callable[[Members], Members], str]] = []
    for name, data in members:
        at = min(10, len(data) - 1)
        changes.append((f"byte of {name}", lambda m, n=name, a=at: flip(m, n, at=a), name))
        if name not in ("manifest.json", "manifest.sig"):
            changes.append(
                (f"without {name}", lambda m, n=name: [(k, d) for k, d in m if k != n], name)
            )
    changes.append(("added", lambda m: [*m, ("evidence/planted.txt", b"x")], "planted.txt"))
    return changes


def test_any_change_to_an_exported_dossier_fails_both_with_the_problem_named(
    exported: Path,
    fresh_python: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    members = read_members(exported)
    assert len(members) >= 8  # evidence, data, report, verify.py, README, manifest and sig
    verifier = bundled_verifier(exported, tmp_path / "reader")
    for label, change, named in every_change(members):
        tampered = rewrite(exported, tmp_path / "tampered.zip", change)
        for result in both(fresh_python, verifier, tampered):
            assert result.returncode == 1, (label, result.stdout, result.stderr)
            # A changed manifest is named, or the signature it no longer matches.
            names = ("manifest.json", "manifest.sig") if named == "manifest.json" else (named,)
            assert any(f"{n}:" in result.stdout for n in names), (label, result.stdout)
