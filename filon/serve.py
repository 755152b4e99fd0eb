"""Serve both apps from one process with waitress, a production WSGI server.

The intake and the casework listen on two ports (in production, two onion services), each
with its own thread pool, driven by one event loop. Waitress writes no access log, so no
source address is ever logged.
"""

from __future__ import annotations

import errno
import signal
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from waitress.server import create_server

from filon.errors import FilonError


class PortInUse(FilonError):
    """Another program already listens on a port Filon needs."""


@dataclass(frozen=True)
class Listener:
    """One app to serve and where."""

    name: str
    app: Callable[..., Any]
    host: str
    port: int


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(listeners: list[Listener], *, threads: int, announce: Callable[[str], None]) -> None:
    """Bind every listener, announce ``name: URL`` lines, and serve until SIGTERM or SIGINT."""
    socket_map: dict[int, Any] = {}
    servers = []
    try:
        for listener in listeners:
            try:
                server = create_server(
                    listener.app,
                    map=socket_map,
                    host=listener.host,
                    port=listener.port,
                    threads=threads,
                    ident="",  # no Server header naming our software
                    # Sources on slow Tor circuits: give a chunk time to arrive.
                    channel_timeout=300,
                    clear_untrusted_proxy_headers=True,
                )
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUse(
                        f"port {listener.port} on {listener.host} is in use: stop the program "
                        f"using it or choose another port for the {listener.name}"
                    ) from exc
                raise
            servers.append(server)
        for listener, server in zip(listeners, servers, strict=True):
            announce(f"{listener.name}: {_url(listener.host, server.effective_port)}")

        def _stop(signum: int, _frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _stop)
        servers[0].run()  # one loop over the shared map serves every listener
    finally:
        for server in servers:
            server.task_dispatcher.shutdown()
            server.close()
