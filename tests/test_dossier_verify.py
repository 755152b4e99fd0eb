"""Verifying ``filon-dossier/1`` dossiers (DESIGN.md §8), with ``filon verify`` and ``verify.py``.

The dossiers here are assembled by the test from DESIGN.md §8 alone, never by the exporter,
so the verifier is held to the contract rather than to whatever the exporter happens to
write. The bundled ``verify.py`` runs in a fresh virtual environment holding only PyNaCl (and
the libraries PyNaCl itself needs), as a lawyer's expert would run it.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey
from packaging.requirements import Requirement

from filon import dossier_verify
from filon.dossier_verify import MAX_ENTRIES, verify

ROOT = Path(__file__).resolve().parent.parent
VERIFIER_SOURCE = (ROOT / "filon" / "dossier_verify.py").read_bytes()

Members = list[tuple[str, bytes]]


def fingerprint_of(key: SigningKey) -> str:
    return hashlib.blake2b(bytes(key.verify_key), digest_size=32).hexdigest()


def grouped(fp: str) -> str:
    return " ".join(fp[i : i + 4] for i in range(0, len(fp), 4))


# -- a dossier assembled from DESIGN.md §8 ------------------------------------------------------


def contents(key: SigningKey) -> Members:
    """Every file a dossier holds besides its manifest and signature, in the §8 layout."""
    photo = bytes(range(256)) * 40 + b"\xff\xd9"
    sites = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [28.888, -1.579]},
                "properties": {"name": "Rubaya (Bibatama D2)", "mineral": "coltan"},
            }
        ],
    }
    return [
        ("report.pdf", b"%PDF-1.7\n% any bytes will do for the verifier\n%%EOF\n"),
        ("evidence/photo-1.jpg", photo),
        ("evidence/notes-2.txt", "Camion vu à Goma, 03:00. Mzigo wa koltani.\n".encode()),
        ("data/sites.geojson", json.dumps(sites).encode()),
        ("data/geotags.geojson", b'{"type": "FeatureCollection", "features": []}'),
        ("data/chain_links.csv", b"from,to,kind\nRubaya,Goma comptoir,trade\n"),
        ("verify.py", VERIFIER_SOURCE),
        (
            "README.txt",
            (
                "Verify with: python verify.py THIS.zip --fingerprint FP\n"
                f"Signing key fingerprint: {grouped(fingerprint_of(key))}\n"
            ).encode(),
        ),
    ]


def listing(path: str, data: bytes) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "path": path,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    if path.startswith("evidence/"):
        entry |= {
            "cleaned": path.endswith(".jpg"),
            "original_sha256": hashlib.sha256(b"original " + data).hexdigest(),
            "custody": [{"seq": 1, "action": "received", "at": "2026-11-20T09:00:00Z"}],
        }
    return entry


def manifest_for(key: SigningKey, members: Members) -> dict[str, Any]:
    return {
        "format": "filon-dossier/1",
        "case": {"reference": "C-0007", "title": "Tailings at Rubaya", "desk": "drc-minerals"},
        "exported_at": "2026-11-22T18:00:00Z",
        "exported_by": "journalist",
        "signing_key": base64.b64encode(bytes(key.verify_key)).decode(),
        "signing_key_fingerprint": fingerprint_of(key),
        "files": [listing(name, data) for name, data in members],
        "mine_sites": [{"name": "Rubaya (Bibatama D2)", "lat": -1.579, "lon": 28.888}],
        "actors": [{"name": "Comptoir de Goma", "kind": "trader"}],
        "chain_links": [{"from": "Rubaya", "to": "Comptoir de Goma"}],
        "geotags": [],
    }


def signed(key: SigningKey, manifest: dict[str, Any]) -> Members:
    data = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
    return [("manifest.json", data), ("manifest.sig", base64.b64encode(key.sign(data).signature))]


def write_zip(
    path: Path,
    members: Members,
    compression: int = zipfile.ZIP_DEFLATED,
    links: frozenset[str] = frozenset(),
) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive, warnings.catch_warnings():
        # A name given twice is one of the tamperings: zipfile warns, and writes it.
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        for name, data in members:
            info = zipfile.ZipInfo(name, (2026, 11, 22, 18, 0, 0))
            if name in links:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data, compression)
    return path


def assemble(
    path: Path,
    key: SigningKey,
    *,
    edit: Callable[[dict[str, Any]], None] | None = None,
    members: Members | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """Write a dossier: its files, a manifest listing them (``edit``ed), signed with ``key``."""
    members = contents(key) if members is None else members
    manifest = manifest_for(key, members)
    if edit is not None:
        edit(manifest)
    return write_zip(path, [*signed(key, manifest), *members], compression)


def read_members(path: Path) -> Members:
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def rewrite(source: Path, target: Path, change: Callable[[Members], Members]) -> Path:
    """A copy of a dossier with its entries changed by ``change``, and nothing re-signed."""
    return write_zip(target, change(read_members(source)))


def flip(members: Members, name: str, at: int = 10) -> Members:
    out = []
    for member, data in members:
        if member == name:
            data = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]
        out.append((member, data))
    return out


# -- fixtures: the dossier, and the two verifiers ---------------------------------------------


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def dossier(tmp_path_factory: pytest.TempPathFactory, key: SigningKey) -> Path:
    return assemble(tmp_path_factory.mktemp("dossier") / "dossier.zip", key)


def distribution_files(name: str, seen: set[str]) -> list[tuple[Path, str]]:
    """The installed files of a distribution and of what it requires: (source, relative path)."""
    dist = importlib.metadata.distribution(name)
    if dist.metadata["Name"].lower() in seen:
        return []
    seen.add(dist.metadata["Name"].lower())
    found = [
        (Path(str(dist.locate_file(f))), f.as_posix())
        for f in dist.files or []
        if not f.as_posix().startswith("..") and "__pycache__" not in f.parts
    ]
    for text in dist.requires or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            found += distribution_files(requirement.name, seen)
    return found


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a new virtual environment holding only PyNaCl and what it needs.

    Offline and fast: PyNaCl's installed files (cffi and pycparser with it) are copied from
    the running environment, exactly as ``pip install pynacl`` would lay them out.
    """
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    for source, relative in distribution_files("PyNaCl", set()):
        target = Path(site) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return python


def fresh_run(
    python: Path, verifier: Path, *args: str | Path, isolated: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a bundled verify.py with the fresh interpreter, isolated from this environment.

    ``isolated=False`` runs it as a reader would, ``python verify.py`` in its own folder.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [python, *(["-I"] if isolated else []), verifier, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=verifier.parent,
        check=False,
    )


def filon_verify(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "filon", "verify", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def bundled_verifier(path: Path, into: Path) -> Path:
    """The verify.py a reader extracts from the dossier (the original one, not a tampered copy)."""
    into.mkdir(exist_ok=True)
    target = into / "verify.py"
    with zipfile.ZipFile(path) as archive:
        target.write_bytes(archive.read("verify.py"))
    return target


def both(
    python: Path, verifier: Path, path: Path, *args: str
) -> list[subprocess.CompletedProcess[str]]:
    return [filon_verify(path, *args), fresh_run(python, verifier, path, *args)]


# -- a good dossier -----------------------------------------------------------------------------


def test_the_fresh_environment_holds_pynacl_and_nothing_of_filon(fresh_python: Path) -> None:
    probe = (
        "import importlib.util as u; "
        "print([n for n in ('nacl', 'filon', 'flask', 'click', 'sqlalchemy') if u.find_spec(n)])"
    )
    found = subprocess.run(
        [fresh_python, "-I", "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert found.stdout.strip() == "['nacl']"


def test_an_assembled_dossier_verifies_with_both(
    dossier: Path, key: SigningKey, fresh_python: Path, tmp_path: Path
) -> None:
    verifier = bundled_verifier(dossier, tmp_path / "reader")
    assert verifier.read_bytes() == VERIFIER_SOURCE
    for result in both(fresh_python, verifier, dossier):
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"OK: {dossier} is intact" in result.stdout
        assert grouped(fingerprint_of(key)) in result.stdout
        assert dossier_verify.UNCHECKED_KEY in result.stdout
    assert verify(dossier) == []
    assert verify(str(dossier)) == []
    with open(dossier, "rb") as handle:
        assert verify(handle) == []


def test_the_fingerprint_is_accepted_grouped_plain_and_in_either_case(
    dossier: Path, key: SigningKey, fresh_python: Path, tmp_path: Path
) -> None:
    fp = fingerprint_of(key)
    verifier = bundled_verifier(dossier, tmp_path / "reader")
    for given_as in (fp, grouped(fp), fp.upper(), grouped(fp).upper(), f"  {grouped(fp)}\n"):
        assert verify(dossier, given_as) == []
    for result in both(fresh_python, verifier, dossier, "--fingerprint", grouped(fp).upper()):
        assert result.returncode == 0, result.stdout + result.stderr
        assert dossier_verify.UNCHECKED_KEY not in result.stdout
    for result in both(fresh_python, verifier, dossier, "--fingerprint", fp):
        assert result.returncode == 0, result.stdout + result.stderr


# -- tampering: both verifiers fail and name the problem ----------------------------------------

OTHER = SigningKey.generate()


def swap_key(members: Members) -> Members:
    """Put another public key in the manifest, keeping the signature and fingerprint."""
    out = []
    for name, data in members:
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["signing_key"] = base64.b64encode(bytes(OTHER.verify_key)).decode()
            data = json.dumps(manifest, indent=2).encode()
        out.append((name, data))
    return out


def edit_sig(members: Members) -> Members:
    out = []
    for name, data in members:
        if name == "manifest.sig":
            raw = bytearray(base64.b64decode(data))
            raw[5] ^= 0x80
            data = base64.b64encode(bytes(raw))
        out.append((name, data))
    return out


def edit_manifest_byte(members: Members) -> Members:
    return [(n, d.replace(b"Tailings at Rubaya", b"Tailings at Rubayb", 1)) for n, d in members]


def truncate(members: Members) -> Members:
    return [(n, d[: len(d) // 2] if n == "evidence/photo-1.jpg" else d) for n, d in members]


TAMPERED: list[tuple[str, Callable[[Members], Members], list[str]]] = [
    ("evidence", lambda m: flip(m, "evidence/photo-1.jpg"), ["evidence/photo-1.jpg: its SHA-256"]),
    ("evidence-text", lambda m: flip(m, "evidence/notes-2.txt"), ["evidence/notes-2.txt: its SHA"]),
    ("report", lambda m: flip(m, "report.pdf"), ["report.pdf: its SHA-256"]),
    ("data", lambda m: flip(m, "data/chain_links.csv"), ["data/chain_links.csv: its SHA-256"]),
    ("verify.py", lambda m: flip(m, "verify.py", at=200), ["verify.py: its SHA-256"]),
    ("readme", lambda m: flip(m, "README.txt"), ["README.txt: its SHA-256"]),
    ("manifest", edit_manifest_byte, ["manifest.sig: the signature does not match manifest.json"]),
    ("signature", edit_sig, ["manifest.sig: the signature does not match manifest.json"]),
    (
        "added",
        lambda m: [*m, ("evidence/planted.jpg", b"\xff\xd8planted")],
        ["evidence/planted.jpg: in the dossier but not listed in manifest.json"],
    ),
    (
        "removed",
        lambda m: [(n, d) for n, d in m if n != "evidence/notes-2.txt"],
        ["evidence/notes-2.txt: listed in manifest.json but missing from the dossier"],
    ),
    ("truncated", truncate, ["evidence/photo-1.jpg: 5121 bytes, but manifest.json lists 10242"]),
    (
        "key swapped",
        swap_key,
        [
            "manifest.sig: the signature does not match manifest.json",
            "manifest.json: 'signing_key_fingerprint'",
        ],
    ),
    (
        "no manifest",
        lambda m: [(n, d) for n, d in m if n != "manifest.json"],
        ["manifest.json: missing from the dossier"],
    ),
    (
        "no signature",
        lambda m: [(n, d) for n, d in m if n != "manifest.sig"],
        ["manifest.sig: missing from the dossier"],
    ),
    (
        "duplicate entry",
        lambda m: [*m, ("report.pdf", b"%PDF-1.7 another report")],
        ["report.pdf: appears more than once in the ZIP"],
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"),
    [pytest.param(change, expected, id=name) for name, change, expected in TAMPERED],
)
def test_tampering_fails_both_verifiers_with_the_problem_named(
    dossier: Path,
    fresh_python: Path,
    tmp_path: Path,
    change: Callable[[Members], Members],
    expected: list[str],
) -> None:
    tampered = rewrite(dossier, tmp_path / "tampered.zip", change)
    verifier = bundled_verifier(dossier, tmp_path / "reader")
    for result in both(fresh_python, verifier, tampered):
        assert result.returncode == 1, result.stdout + result.stderr
        for text in expected:
            assert text in result.stdout
        assert "NOT VERIFIED" in result.stderr
        assert "Traceback" not in result.stderr
    problems = verify(tampered)
    for text in expected:
        assert any(text in problem for problem in problems), problems


def test_the_bundled_verifier_ignores_modules_planted_beside_it(
    dossier: Path, fresh_python: Path, tmp_path: Path
) -> None:
    # A reader who extracts the whole dossier and runs "python verify.py" in that folder:
    # a planted json.py or nacl/ must not answer for the real ones and print "OK".
    hijack = b'import sys\nprint("OK: hijacked")\nsys.exit(0)\n'
    planted = [("json.py", hijack), ("nacl/__init__.py", hijack), ("hashlib.py", hijack)]
    tampered = rewrite(dossier, tmp_path / "planted.zip", lambda m: [*m, *planted])
    folder = tmp_path / "extracted"
    with zipfile.ZipFile(tampered) as archive:
        archive.extractall(folder)
    result = fresh_run(fresh_python, folder / "verify.py", tampered, isolated=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "hijacked" not in result.stdout
    for name, _ in planted:
        assert f"{name}: in the dossier but not listed in manifest.json" in result.stdout


def test_a_wrong_fingerprint_fails_both(
    dossier: Path, key: SigningKey, fresh_python: Path, tmp_path: Path
) -> None:
    verifier = bundled_verifier(dossier, tmp_path / "reader")
    wrong = grouped(fingerprint_of(OTHER))
    for result in both(fresh_python, verifier, dossier, "--fingerprint", wrong):
        assert result.returncode == 1
        assert result.stdout.splitlines() == [
            f"manifest.json: signed with the key {grouped(fingerprint_of(key))}, "
            f"not with the key {wrong} given by --fingerprint"
        ]


def test_a_dossier_re_signed_by_someone_else_fails_only_against_the_fingerprint(
    key: SigningKey, fresh_python: Path, tmp_path: Path
) -> None:
    # A forger who changes evidence and re-signs with their own key makes a dossier that is
    # consistent with itself. Only the fingerprint the reader got elsewhere tells them apart.
    members = flip(contents(key), "evidence/photo-1.jpg")
    forged = assemble(tmp_path / "forged.zip", OTHER, members=members)
    verifier = bundled_verifier(forged, tmp_path / "reader")
    for result in both(fresh_python, verifier, forged):
        assert result.returncode == 0
        assert grouped(fingerprint_of(OTHER)) in result.stdout
        assert dossier_verify.UNCHECKED_KEY in result.stdout
    for result in both(fresh_python, verifier, forged, "--fingerprint", fingerprint_of(key)):
        assert result.returncode == 1
        assert "given by --fingerprint" in result.stdout


def listed_twice(manifest: dict[str, Any]) -> None:
    manifest["files"].append(dict(manifest["files"][1]))


def dotdot(manifest: dict[str, Any]) -> None:
    manifest["files"].append(listing("evidence/../../escape.txt", b"out"))


def bad_types(manifest: dict[str, Any]) -> None:
    manifest["files"][0]["size"] = "52"
    manifest["files"][1]["cleaned"] = "yes"
    manifest["case"] = []
    del manifest["geotags"]
    manifest["format"] = "filon-dossier/2"


RESIGNED: list[tuple[str, Callable[[dict[str, Any]], None], Members, list[str]]] = [
    (
        "listed twice",
        listed_twice,
        [],
        ["manifest.json: files[8] ('evidence/photo-1.jpg'): listed more than once"],
    ),
    (
        "dot-dot path",
        dotdot,
        [("evidence/../../escape.txt", b"out")],
        [
            "manifest.json: files[8] ('evidence/../../escape.txt'): a path with a '..' component",
            "'evidence/../../escape.txt': a path with a '..' component in the ZIP",
        ],
    ),
    (
        "wrong types",
        bad_types,
        [],
        [
            "manifest.json: files[0] ('report.pdf'): 'size' must be a whole number of bytes",
            "manifest.json: files[1] ('evidence/photo-1.jpg'): 'cleaned' must be true or false",
            "manifest.json: the field 'case' must be an object",
            "manifest.json: the field 'geotags' is missing",
            "manifest.json: the format is 'filon-dossier/2', this verifier reads 'filon-dossier/1'",
        ],
    ),
]


@pytest.mark.parametrize(
    ("edit", "extra", "expected"),
    [pytest.param(e, x, want, id=name) for name, e, x, want in RESIGNED],
)
def test_a_signed_but_malformed_manifest_fails_both(
    key: SigningKey,
    fresh_python: Path,
    tmp_path: Path,
    edit: Callable[[dict[str, Any]], None],
    extra: Members,
    expected: list[str],
) -> None:
    members = contents(key)
    manifest = manifest_for(key, members)
    edit(manifest)
    path = write_zip(tmp_path / "odd.zip", [*signed(key, manifest), *members, *extra])
    verifier = bundled_verifier(path, tmp_path / "reader")
    for result in both(fresh_python, verifier, path):
        assert result.returncode == 1
        for text in expected:
            assert text in result.stdout, result.stdout
        assert "signature does not match" not in result.stdout  # it was signed as it is


def test_usage_errors_and_unreadable_files_exit_2(
    dossier: Path, fresh_python: Path, tmp_path: Path
) -> None:
    verifier = bundled_verifier(dossier, tmp_path / "reader")
    missing = tmp_path / "nowhere.zip"
    for result in both(fresh_python, verifier, missing):
        assert result.returncode == 2
        assert "nowhere.zip" in result.stderr
    for result in both(fresh_python, verifier, dossier, "--fingerprint", "not-a-fingerprint"):
        assert result.returncode == 2
        assert "--fingerprint" in result.stderr
        assert "64 hexadecimal digits" in result.stderr
    no_args = fresh_run(fresh_python, verifier)
    assert no_args.returncode == 2
    assert "usage: verify.py" in no_args.stderr


def test_not_a_zip_is_a_named_problem(dossier: Path, fresh_python: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"this is not a ZIP file at all")
    verifier = bundled_verifier(dossier, tmp_path / "reader")
    for result in both(fresh_python, verifier, junk):
        assert result.returncode == 1
        assert result.stdout.startswith("dossier: not a readable ZIP file")


def test_an_absurd_entry_count_is_refused_before_reading(tmp_path: Path) -> None:
    # A ZIP64 end record claiming a billion entries, with no central directory behind it.
    claimed = 10**9
    zip64_end = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, claimed, claimed, 0, 0)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, 0, 1)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(zip64_end + locator + end)
    assert verify(bomb) == [f"dossier: {claimed} entries, more than the {MAX_ENTRIES} allowed"]


def test_unsafe_paths_are_named() -> None:
    for name, reason in [
        ("/etc/passwd", "an absolute path"),
        ("C:/Windows/x", "an absolute path"),
        ("evidence/../../x", "a path with a '..' component"),
        ("..", "a path with a '..' component"),
        ("evidence\\..\\x", "a path with a backslash (ZIP paths use '/')"),
        ("evidence//x", "a path with an empty or '.' component"),
        ("./x", "a path with an empty or '.' component"),
        ("", "an empty path"),
    ]:
        assert dossier_verify.unsafe_path(name) == reason, name
    for name in ("evidence/photo.jpg", "Evidence/Photo.JPG", "data/a..b.csv", "README.txt"):
        assert dossier_verify.unsafe_path(name) is None, name


def test_names_that_differ_only_in_case_are_fine(key: SigningKey, tmp_path: Path) -> None:
    members = [*contents(key), ("evidence/Photo-1.JPG", b"another photo")]
    path = assemble(tmp_path / "cases.zip", key, members=members)
    assert verify(path) == []


def test_a_symbolic_link_is_named_even_when_listed(key: SigningKey, tmp_path: Path) -> None:
    members = [*contents(key), ("evidence/link", b"/etc")]
    manifest = manifest_for(key, members)
    entries = [*signed(key, manifest), *members]
    path = write_zip(tmp_path / "link.zip", entries, links=frozenset({"evidence/link"}))
    assert verify(path) == [
        "evidence/link: a symbolic link in the ZIP (a dossier holds only files)"
    ]


def test_control_characters_in_names_are_shown_escaped(
    dossier: Path, fresh_python: Path, tmp_path: Path
) -> None:
    # A terminal escape that erases the line, and a right-to-left override that disguises it.
    hidden = "evidence/x\x1b[2K\r.jpg"
    disguised = "evidence/\u202egpj.exe"
    tampered = rewrite(
        dossier, tmp_path / "hidden.zip", lambda m: [*m, (hidden, b"a"), (disguised, b"b")]
    )
    expected = [
        "evidence/x\\x1b[2K\\r.jpg: in the dossier but not listed in manifest.json",
        "evidence/\\u202egpj.exe: in the dossier but not listed in manifest.json",
    ]
    assert verify(tampered) == expected
    verifier = bundled_verifier(dossier, tmp_path / "reader")
    for result in both(fresh_python, verifier, tampered):
        assert result.returncode == 1
        assert result.stdout.splitlines() == expected


def central_record(blob: bytes, name: str) -> int:
    """Where the ZIP's directory record of ``name`` starts."""
    (at,) = struct.unpack_from("<I", blob, blob.rindex(b"PK\x05\x06") + 16)  # the first
    while True:
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", blob, at + 28)
        if blob[at + 46 : at + 46 + name_length] == name.encode():
            return at
        at += 46 + name_length + extra_length + comment_length


def test_entries_sharing_bytes_or_disagreeing_headers_are_named(
    dossier: Path, fresh_python: Path, tmp_path: Path
) -> None:
    # What the verifier reads (through the ZIP's directory) must be what any tool extracts.
    blob = bytearray(dossier.read_bytes())
    with zipfile.ZipFile(dossier) as archive:
        report = archive.getinfo("report.pdf")
        notes = archive.getinfo("evidence/notes-2.txt")
    blob[report.header_offset + 8] = zipfile.ZIP_STORED  # the file header says "stored"
    # The directory points evidence/notes-2.txt at report.pdf's bytes.
    struct.pack_into(
        "<I", blob, central_record(bytes(blob), notes.filename) + 42, report.header_offset
    )
    path = tmp_path / "layout.zip"
    path.write_bytes(bytes(blob))
    verifier = bundled_verifier(dossier, tmp_path / "reader")
    for result in both(fresh_python, verifier, path):
        assert result.returncode == 1
        for text in [
            "report.pdf: its file header and the ZIP's directory disagree on how it is compressed",
            "evidence/notes-2.txt: its file header names it 'report.pdf'",
            "shares bytes with",
        ]:
            assert text in result.stdout, result.stdout


def test_a_large_file_is_hashed_in_constant_memory(key: SigningKey, tmp_path: Path) -> None:
    size = 64 * 1024 * 1024  # zeros: small on disk, 64 MiB to hash
    members = [("evidence/video.mp4", bytes(size))]
    path = assemble(tmp_path / "large.zip", key, members=members)
    del members
    tracemalloc.start()
    try:
        assert verify(path) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024


def test_a_manifest_with_a_key_twice_is_refused(key: SigningKey, tmp_path: Path) -> None:
    # Two readers could see two different manifests behind one signature.
    members = contents(key)
    body = json.dumps(manifest_for(key, members)).encode()
    twice = body[:-1] + b', "format": "filon-dossier/1"}'
    sig = base64.b64encode(key.sign(twice).signature)
    path = write_zip(tmp_path / "twice.zip", [("manifest.json", twice), ("manifest.sig", sig)])
    problems = verify(path)
    assert problems[0] == (
        "manifest.json: not valid JSON (DuplicateKey: the key 'format' appears twice in one object)"
    )


# -- properties ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory, key: SigningKey) -> bytes:
    """A dossier whose entries are stored uncompressed, so each file's bytes sit in the ZIP."""
    path = tmp_path_factory.mktemp("stored") / "stored.zip"
    return assemble(path, key, compression=zipfile.ZIP_STORED).read_bytes()


@pytest.fixture(scope="module")
def deflated(dossier: Path) -> bytes:
    return dossier.read_bytes()


def data_regions(blob: bytes) -> list[tuple[int, int]]:
    """Where each entry's bytes lie in a ZIP: (start, end) after its local header."""
    regions = []
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        for info in archive.infolist():
            name_len, extra_len = struct.unpack_from("<HH", blob, info.header_offset + 26)
            start = info.header_offset + 30 + name_len + extra_len
            regions.append((start, start + info.compress_size))
    return regions


@settings(max_examples=80, deadline=None)
@given(choice=st.data())
def test_any_flipped_byte_in_a_file_the_manifest_or_the_signature_is_found(
    stored: bytes, choice: st.DataObject
) -> None:
    assert verify(io.BytesIO(stored)) == []
    regions = data_regions(stored)
    start, end = choice.draw(st.sampled_from(regions))
    at = choice.draw(st.integers(start, end - 1))
    mask = choice.draw(st.integers(1, 255))
    changed = bytearray(stored)
    changed[at] ^= mask
    assert verify(io.BytesIO(bytes(changed))) != []


@settings(max_examples=150, deadline=None)
@given(choice=st.data())
def test_verify_never_raises_on_a_damaged_zip(
    stored: bytes, deflated: bytes, choice: st.DataObject
) -> None:
    # Compressed entries too: a damaged deflate stream raises zlib's own error, not zipfile's.
    original = choice.draw(st.sampled_from([stored, deflated]))
    changed = bytearray(original)
    # Anywhere (headers, central directory), or inside an entry's data, where the
    # decompressor and the hashing are reached rather than the ZIP refused at once.
    anywhere = st.integers(0, len(changed) - 1)
    inside = st.sampled_from(data_regions(original)).flatmap(lambda r: st.integers(r[0], r[1] - 1))
    for _ in range(choice.draw(st.integers(1, 4))):
        at = choice.draw(anywhere | inside)
        changed[at] = choice.draw(st.integers(0, 255))
    cut = len(changed)
    if choice.draw(st.booleans()):
        cut = choice.draw(st.integers(0, len(changed)))
    problems = verify(io.BytesIO(bytes(changed[:cut])))
    assert isinstance(problems, list)
    assert all(isinstance(p, str) and p for p in problems)


@settings(max_examples=150, deadline=None)
@given(blob=st.binary(max_size=4096) | st.builds(lambda b: b"PK\x03\x04" + b, st.binary()))
def test_verify_never_raises_on_arbitrary_bytes(blob: bytes) -> None:
    problems = verify(io.BytesIO(blob))
    assert problems  # no random bytes make a signed dossier
    assert all(isinstance(p, str) for p in problems)
