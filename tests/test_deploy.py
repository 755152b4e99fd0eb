"""``deploy/``: checked with the tools that run it, where this machine has them.

- the compose file through ``docker compose config`` (or Debian's ``docker-compose``);
- the image built and run where a Docker daemon answers (``id -u`` is not 0);
- Caddy run for real in front of a stand-in app: no client address reaches the app, the
  security headers are ``filon/web.py``'s, the probes are not public, no address is logged;
- the torrc through ``tor --verify-config``; the systemd units through ``systemd-analyze``;
- the container's health check against a real ``filon serve --only intake``.

A check whose tool is missing is skipped with the reason (``scripts/setup.sh --test``
installs them all but a Docker daemon).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from filon.instance import Instance, init_instance
from filon.web import SECURITY_HEADERS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
FILON = [sys.executable, "-m", "filon"]
APPS = ("intake", "casework")
UNITS = [DEPLOY / "systemd" / f"filon-{app}.service" for app in APPS]


def run(*command: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), capture_output=True, text=True, timeout=300, check=False, **kwargs
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- compose ---------------------------------------------------------------------------------------


def compose_command() -> list[str] | None:
    """``docker compose`` (the plugin) or Debian's ``docker-compose``, whichever is here."""
    if shutil.which("docker") and run("docker", "compose", "version").returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def yaml_to_json(text: str) -> dict[str, Any]:
    """Parse YAML with the system Python's PyYAML (a dependency of Debian's docker-compose)."""
    script = "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"
    for python in ("/usr/bin/python3", sys.executable):
        result = run(python, "-c", script, input=text)
        if result.returncode == 0:
            loaded: dict[str, Any] = json.loads(result.stdout)
            return loaded
    pytest.skip("no YAML parser (PyYAML) to read the compose file with")


@pytest.fixture(scope="module")
def compose_config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The compose file as ``docker compose config`` resolves it, with placeholder secrets."""
    command = compose_command()
    if command is None:
        pytest.skip(
            "neither the docker compose plugin nor docker-compose is installed "
            "(scripts/setup.sh --test installs Debian's docker-compose)"
        )
    folder = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(DEPLOY, folder)
    shutil.copy(folder / "filon.env.example", folder / "filon.env")
    secrets = folder / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "postgres_password").write_text("placeholder-password\n")
    (secrets / "database_url").write_text(
        "postgresql+psycopg://filon:placeholder-password@postgres:5432/filon\n"
    )
    result = run(*command, "-f", str(folder / "compose.yaml"), "config", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "placeholder-password" not in result.stdout  # secrets stay files, never values
    return yaml_to_json(result.stdout)


def test_compose_validates_and_hardens_every_service(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    assert set(services) == {"intake", "casework", "postgres", "tor", "proxy"}
    for name, service in services.items():
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert set(service.get("cap_add", [])) <= {"NET_BIND_SERVICE"}, name
        tmpfs = service.get("tmpfs", [])
        assert any(t.startswith("/tmp:") and "noexec" in t for t in tmpfs), name
    for name in APPS:
        service = services[name]
        assert service["command"] == ["serve", "--only", name]
        assert service["user"] == "10001:10001"
        assert service["environment"]["FILON_DATABASE_URL_FILE"] == "/run/secrets/database_url"
        assert "FILON_DATABASE_URL" not in service["environment"]
        assert [s["source"] for s in service["secrets"]] == ["database_url"]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["postgres"]["user"] == "999:999"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/")
    assert compose_config["networks"]["backend"]["internal"] is True
    assert services["postgres"]["networks"].keys() == {"backend"}
    assert services["proxy"]["profiles"] == ["clearnet"]


def test_tor_points_at_the_addresses_compose_gives_the_apps(
    compose_config: dict[str, Any],
) -> None:
    torrc = (DEPLOY / "tor" / "torrc").read_text()
    targets = dict(
        re.findall(r"HiddenServiceDir /var/lib/tor/(\w+)\nHiddenServicePort 80 (\S+)", torrc)
    )
    services = compose_config["services"]
    ports = {"intake": 8080, "casework": 8081}
    for name in APPS:
        address = services[name]["networks"]["onion"]["ipv4_address"]
        assert targets[name] == f"{address}:{ports[name]}"


# -- the image -------------------------------------------------------------------------------------


def dockerfile_stages() -> list[str]:
    text = (DEPLOY / "Dockerfile").read_text()
    return re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]


def test_the_image_builds_in_one_stage_and_runs_slim_in_another() -> None:
    build, final = dockerfile_stages()
    assert build.startswith("${PYTHON_IMAGE} AS build")
    assert "npm ci" in build
    assert "pybabel compile" in build
    # No compiler, no build tool, no npm in what runs.
    installed = re.search(r"apt-get install -y --no-install-recommends ([^\n&]+)", final)
    assert installed is not None
    assert set(installed.group(1).split()) - {"\\"} == {"ffmpeg", "fonts-dejavu-core"}
    for tool in ("gcc", "build-essential", "make", "npm", "nodejs", "git"):
        assert not re.search(rf"\b{tool}\b", installed.group(1)), tool
    assert "COPY --from=build /opt/filon /opt/filon" in final
    user = re.search(r"^USER (\d+):(\d+)$", final, flags=re.MULTILINE)
    assert user is not None
    assert int(user.group(1)) != 0
    assert "HEALTHCHECK" in final
    assert "deploy/healthcheck.py" in final


def docker_daemon() -> bool:
    return shutil.which("docker") is not None and run("docker", "info").returncode == 0


@pytest.mark.skipif(not docker_daemon(), reason="no Docker daemon answers on this machine")
def test_the_image_builds_and_runs_as_a_user_other_than_root() -> None:
    tag = "filon:test-deploy"
    built = run("docker", "build", "-f", str(DEPLOY / "Dockerfile"), "-t", tag, str(ROOT))
    assert built.returncode == 0, built.stderr[-3000:]
    uid = run("docker", "run", "--rm", "--read-only", "--entrypoint", "id", tag, "-u")
    assert uid.returncode == 0, uid.stderr
    assert uid.stdout.strip() not in {"", "0"}
    version = run("docker", "run", "--rm", "--read-only", "--tmpfs", "/tmp", tag, "--version")
    assert version.returncode == 0, version.stderr


# -- the reverse proxy -----------------------------------------------------------------------------


def caddy_headers() -> dict[str, str]:
    """The ``?Name "value"`` response headers of the Caddyfile."""
    text = (DEPLOY / "Caddyfile").read_text()
    return dict(re.findall(r'^\s*\?([\w-]+) "(.*)"$', text, flags=re.MULTILINE))


def test_the_proxy_sets_the_same_security_headers_as_the_apps() -> None:
    headers = caddy_headers()
    assert {k: v for k, v in headers.items() if k in SECURITY_HEADERS} == SECURITY_HEADERS
    assert headers["Cache-Control"] == "no-store"


class Recorder(BaseHTTPRequestHandler):
    """A stand-in intake that remembers the headers of every request it gets."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        Recorder.seen.append({k.lower(): v for k, v in self.headers.items()})
        body = b"stand-in intake\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def caddy(tmp_path: Path) -> Iterator[tuple[str, Path, ThreadingHTTPServer]]:
    """Caddy with deploy/Caddyfile on a free port, in front of the recorder."""
    if shutil.which("caddy") is None:
        pytest.skip("Caddy is not installed (scripts/setup.sh --test installs Debian's caddy)")
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    log = tmp_path / "caddy.log"
    env = {
        **os.environ,
        "FILON_INTAKE_DOMAIN": f"http://127.0.0.1:{port}",
        "FILON_INTAKE_UPSTREAM": f"127.0.0.1:{upstream.server_address[1]}",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOME": str(tmp_path),
    }
    command = ["caddy", "run", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"]
    with open(log, "w") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=2).close()  # noqa: S310 - local URL
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"caddy did not start: {log.read_text()}")
                time.sleep(0.2)
        Recorder.seen.clear()
        yield url, log, upstream
    finally:
        process.terminate()
        process.wait(timeout=20)
        upstream.shutdown()
        upstream.server_close()


def test_the_proxy_passes_no_client_address_and_logs_none(
    caddy: tuple[str, Path, ThreadingHTTPServer],
) -> None:
    url, log, upstream = caddy
    spoofed = {
        "X-Forwarded-For": "203.0.113.7",
        "X-Real-IP": "203.0.113.8",
        "Forwarded": "for=203.0.113.9",
        "True-Client-IP": "203.0.113.10",
        "CF-Connecting-IP": "203.0.113.11",
        "User-Agent": "SourcePhone/1.0 (canary-agent)",
    }
    request = urllib.request.Request(url + "/submit-page", headers=spoofed)
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local URL
        assert response.read() == b"stand-in intake\n"
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, name
        assert response.headers.get("Server") is None
    assert len(Recorder.seen) == 1
    received = Recorder.seen[0]
    for name in (
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "true-client-ip",
        "via",
        "user-agent",
    ):
        assert name not in received, name
    assert "cf-connecting-ip" not in received
    assert not any("203.0.113" in value or value == "127.0.0.1" for value in received.values())
    # The probes are for the runtime on the app's own port, not for the world.
    for probe in ("/healthz", "/readyz"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + probe, timeout=10)  # noqa: S310 - local URL
        refused.value.close()
        assert refused.value.code == 404
        assert refused.value.headers["X-Frame-Options"] == "DENY"
    assert len(Recorder.seen) == 1
    # With the app down, Caddy logs the failed request: without its address or headers.
    upstream.server_close()
    request = urllib.request.Request(url + "/submit-page?ref=canary-query", headers=spoofed)
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - local URL
    failed.value.close()
    assert failed.value.code == 502
    deadline = time.monotonic() + 10
    while "502" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    logged = log.read_text()
    assert "502" in logged  # the error was logged, so the filter below was put to work
    for needle in ("203.0.113", "canary-agent", "submit-page", "canary-query", "remote_ip"):
        assert needle not in logged, needle


# -- Tor and systemd -------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("tor") is None, reason="Tor is not installed")
def test_tor_accepts_the_onion_configuration(tmp_path: Path) -> None:
    torrc = (DEPLOY / "tor" / "torrc").read_text().replace("/var/lib/tor", str(tmp_path))
    assert "HiddenServiceDir" in torrc
    (tmp_path / "torrc").write_text(torrc)
    result = run("tor", "--verify-config", "-f", str(tmp_path / "torrc"))
    assert result.returncode == 0, result.stdout
    assert "Configuration was valid" in result.stdout


HARDENING = [
    "User=filon",
    "NoNewPrivileges=yes",
    "CapabilityBoundingSet=",
    "ProtectSystem=strict",
    "ReadWritePaths=/var/lib/filon",
    "PrivateTmp=yes",
    "ProtectHome=yes",
    "PrivateDevices=yes",
    "MemoryDenyWriteExecute=yes",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "SystemCallFilter=@system-service",
    "UMask=0077",
]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_serves_its_app_and_is_hardened(unit: Path) -> None:
    lines = set(unit.read_text().splitlines())
    for line in HARDENING:
        assert line in lines, line
    app = unit.stem.removeprefix("filon-")
    assert f"ExecStart=/opt/filon/.venv/bin/filon serve --only {app}" in lines


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_accepts_each_unit(unit: Path, tmp_path: Path) -> None:
    # The unit as installed, but pointing at this machine's Python (no /opt/filon here) and
    # an environment file that exists.
    env_file = tmp_path / "filon.env"
    env_file.write_text("FILON_THREADS=8\n")
    text = unit.read_text().replace("/opt/filon/.venv/bin/filon", sys.executable)
    text = text.replace("/etc/filon/filon.env", str(env_file))
    copy = tmp_path / unit.name
    copy.write_text(text)
    result = run("systemd-analyze", "verify", str(copy))
    assert result.returncode == 0, result.stderr
    assert "Unknown key" not in result.stderr
    assert "Unknown lvalue" not in result.stderr


# -- the container's health check ------------------------------------------------------------------


@pytest.fixture
def sqlite_instance(tmp_path: Path) -> Iterator[Instance]:
    created = init_instance(tmp_path / "instance", environ={})
    yield created.instance
    created.instance.close()


def test_the_health_check_follows_the_app_the_container_serves(
    sqlite_instance: Instance,
) -> None:
    intake_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FILON_")},
        "FILON_INSTANCE": str(sqlite_instance.settings.instance_dir),
        "FILON_SERVE_ONLY": "intake",
        "FILON_INTAKE_PORT": str(intake_port),
        "FILON_CASEWORK_PORT": str(free_port()),
    }
    process = subprocess.Popen(
        [*FILON, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first == f"intake: http://127.0.0.1:{intake_port}\n", process.stderr
        check = [sys.executable, str(DEPLOY / "healthcheck.py")]
        assert run(*check, env=env).returncode == 0
        # Only the intake listens here: a check that wants the casework too fails.
        both = {k: v for k, v in env.items() if k != "FILON_SERVE_ONLY"}
        assert run(*check, env=both).returncode == 1
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert "casework:" not in out
    assert process.returncode == 0
