"""The import boundaries of DESIGN.md §2, and the ports that let the casework keep to them.

The first tests parse every module with ``ast`` (nothing is imported), so a forbidden import
fails here by file and line even if it sits inside a function. The others run the casework
with and without the ports the composition root injects.
"""

from __future__ import annotations

import ast
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from filon.errors import RefusedInput
from filon.instance import Instance
from filon.models import Submission
from filon.ports import EXTENSION, CaseworkLimits, CaseworkPorts
from filon.sandbox import WorkerFailed
from intake.demo import seed_submissions
from intake.ports import casework_ports
from tests.conftest import Staff, StaffAccount, csrf_token

ROOT = Path(__file__).resolve().parent.parent
APPS = ("intake", "casework")
COMPOSITION_ROOT = frozenset({"filon/cli.py", "filon/wsgi.py"})
# Alembic's environment sees every table of the one record, the casework's included, so that
# autogenerate compares the whole schema; it is loaded by Alembic, never imported by filon.
TABLES_ONLY = {"filon/migrations/env.py": {"casework.models"}}
# A dotted module name in a string constant: import_module("intake.x") is an import too.
DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def modules(root: Path, package: str) -> list[Path]:
    found = sorted((root / package).rglob("*.py"))
    assert found, f"no modules under {package}/"
    return found


def imports(root: Path, path: Path) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, absolute, with its line; and dotted names it spells."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                yield node.lineno, ".".join([*base, *([node.module] if node.module else [])])
            else:
                yield node.lineno, node.module or ""
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and DOTTED.match(node.value)
        ):
            yield node.lineno, node.value


def violations(
    package: str, forbidden: set[str], exempt: frozenset[str] = frozenset(), root: Path = ROOT
) -> list[str]:
    """``file:line uses module`` for each use of a ``forbidden`` package under ``package``."""
    found = []
    for path in modules(root, package):
        name = path.relative_to(root).as_posix()
        if name in exempt:
            continue
        allowed = TABLES_ONLY.get(name, set())
        for line, module in sorted(imports(root, path)):
            if module.split(".")[0] in forbidden and module not in allowed:
                found.append(f"{name}:{line} uses {module}")
    return found


@pytest.mark.parametrize("app", APPS)
def test_an_app_never_imports_the_other(app: str) -> None:
    other = next(a for a in APPS if a != app)
    assert violations(app, {other}) == []


def test_crypto_imports_only_nacl_and_the_standard_library() -> None:
    assert violations("crypto", {"filon", *APPS, "flask", "sqlalchemy"}) == []


def test_only_the_composition_root_in_filon_imports_the_apps() -> None:
    assert violations("filon", set(APPS), exempt=COMPOSITION_ROOT) == []


def test_the_check_finds_a_forbidden_import(tmp_path: Path) -> None:
    # The walker itself must see every form: plain, from, nested in a function, by string.
    (tmp_path / "casework").mkdir()
    (tmp_path / "casework" / "probe.py").write_text(
        "import intake\n"
        "from intake.errors import ProtocolError\n"
        "def f():\n"
        "    from intake import metadata\n"
        "    return 'intake.metadata.worker'\n",
        encoding="utf-8",
    )
    (tmp_path / "casework" / "views").mkdir()
    (tmp_path / "casework" / "views" / "relative.py").write_text(
        "from .. import web\nfrom ..cases import create_case\n", encoding="utf-8"
    )  # relative imports stay inside their own package
    assert violations("casework", {"intake"}, root=tmp_path) == [
        "casework/probe.py:1 uses intake",
        "casework/probe.py:2 uses intake.errors",
        "casework/probe.py:4 uses intake",
        "casework/probe.py:5 uses intake.metadata.worker",
    ]
    assert violations("casework", {"casework"}, root=tmp_path) == [
        "casework/views/relative.py:1 uses casework",
        "casework/views/relative.py:2 uses casework.cases",
    ]


# -- the ports ----------------------------------------------------------------------------------


@pytest.fixture
def receipt(instance: Instance, investigator: StaffAccount) -> str:
    """The demo's first submission, which has a photo."""
    return seed_submissions(instance, "drc-minerals")[0].receipt


def casework_with(instance: Instance, ports: CaseworkPorts | None) -> Flask:
    from casework import create_app  # noqa: PLC0415 - a test is a composition root too

    app = create_app(instance.settings, instance, ports=ports)
    app.config.update(TESTING=True, PREFERRED_URL_SCHEME="https")
    return app


def test_without_the_ports_filing_and_previews_answer_503_and_the_rest_works(
    instance: Instance, investigator: StaffAccount, receipt: str
) -> None:
    app = casework_with(instance, None)
    assert EXTENSION not in app.extensions
    staff = Staff(app.test_client(), investigator)
    assert staff.log_in().status_code == 303
    client = staff.client
    page = client.get("/file")
    assert page.status_code == 503
    assert "Unavailable on this server" in page.get_data(as_text=True)
    token = csrf_token(client, f"/submissions/{receipt}")
    form = {
        "csrf_token": token,
        "desk": "drc-minerals",
        "report": "Phone call.",
        "lang": "en",
        "files": [(io.BytesIO(b"notes\n"), "call.txt", "text/plain")],
    }
    assert client.post("/file", data=form).status_code == 503
    preview = client.get(f"/submissions/{receipt}/files/1/preview")
    assert preview.status_code == 503
    assert "intake's pipeline and sandboxed previewer" in preview.get_data(as_text=True)
    assert client.get(f"/submissions/{receipt}").status_code == 200
    with instance.sessions() as session:
        assert len(session.scalars(select(Submission)).all()) == 2  # the demo's, nothing filed
    incoming = instance.store.incoming_path(instance.store.new_id()).parent
    assert not incoming.exists() or list(incoming.iterdir()) == []


def test_the_casework_checks_what_a_previewer_port_answers(
    instance: Instance, investigator: StaffAccount, receipt: str
) -> None:
    # A previewer that answers a page labelled as a JPEG: the casework serves it inline, so
    # it checks the answer itself, whatever stands on the other side of the port.
    def lying_previewer(data: bytes, *, max_side: int) -> tuple[str, bytes]:
        return "image/jpeg", b"<script>alert(1)</script>"

    ports = CaseworkPorts(
        file_submission=casework_ports().file_submission,
        render_preview=lying_previewer,
        limits=casework_ports().limits,
    )
    staff = Staff(casework_with(instance, ports).test_client(), investigator)
    assert staff.log_in().status_code == 303
    refused = staff.client.get(f"/submissions/{receipt}/files/1/preview")
    assert refused.status_code == 422
    assert "malformed" in refused.get_data(as_text=True)
    assert b"<script>" not in refused.get_data()


def test_the_intakes_ports_carry_its_limits_and_refusals(instance: Instance) -> None:
    from intake.envelope import MAX_FILES  # noqa: PLC0415
    from intake.metadata.limits import CLEAN_MAX_BYTES, PREVIEW_MAX_SIDE  # noqa: PLC0415

    ports = casework_ports()
    assert ports.limits == CaseworkLimits(MAX_FILES, CLEAN_MAX_BYTES, PREVIEW_MAX_SIDE)
    # An intake refusal reaches the casework as a filon-level RefusedInput, with its status.
    with pytest.raises(RefusedInput, match="no desk") as refused:
        ports.file_submission(
            instance,
            desk_slug="no-such-desk",
            lang="en",
            answers={"report": "x"},
            files=[],
            issue_codename=False,
            on_record=lambda _session, _receipt: None,
        )
    assert refused.value.status == 400
    # The sandbox's failures are filon-level too: a refused picture, in a real worker.
    with pytest.raises(WorkerFailed):
        ports.render_preview(b"not a picture", max_side=ports.limits.preview_max_side)


def test_the_dossier_verifier_imports_only_the_standard_library_and_nacl() -> None:
    # It is copied into every dossier as verify.py and run where only Python and PyNaCl are.
    path = ROOT / "filon" / "dossier_verify.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules = [
        (node.lineno, name)
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
    ]
    relative = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level]
    assert modules
    assert relative == []
    allowed = set(sys.stdlib_module_names) | {"nacl"}
    assert [(line, m) for line, m in modules if m.split(".")[0] not in allowed] == []
    assert not any(
        isinstance(n, ast.Call) and getattr(n.func, "id", "") == "__import__"
        for n in ast.walk(tree)
    )
