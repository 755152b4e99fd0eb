"""Serve both apps from one process with Cheroot, a production WSGI server.

The intake and the casework listen on two ports (in production, two onion services), each
with its own thread pool. Cheroot hands the app the request body as it comes off the
socket: it never spools a body to a temporary file (waitress does, above 512 KiB, which for
the no-JavaScript form would put a source's plaintext on disk). It writes no access log,
so no source address is ever logged.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from cheroot import wsgi

from filon.errors import FilonError

# Sources on slow Tor circuits: give a chunk time to arrive before the connection is dropped.
SOCKET_TIMEOUT = 300
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 * 1024 * 1024


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


def return_large_buffers_to_the_system() -> None:
    """Fix glibc's mmap threshold at 4 MiB, so memory stays flat and 1 MiB buffers stay fast.

    By default glibc raises its threshold as large buffers come and go, up to 32 MiB, and
    then keeps such buffers in per-thread arenas: a server with many threads grew by tens of
    MiB it never used again. A fixed threshold stops that. It sits above the 1 MiB chunk
    (not below it, as it first did): a buffer taken from the system is faulted in and zeroed
    page by page, and with 256 KiB every chunk's buffers were: verifying 512 MiB ran at 527
    to 578 MiB/s against 1,028 to 1,088 with glibc's defaults on this machine. Buffers of
    4 MiB or more (a file held in memory to be cleaned) still go back to the system when freed.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return
    libc = ctypes.CDLL(name)
    if hasattr(libc, "mallopt"):
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def bind(listener: Listener, threads: int) -> wsgi.Server:
    """Create and bind one server, naming a port that is already taken."""
    server = wsgi.Server(
        (listener.host, listener.port),
        listener.app,
        numthreads=threads,
        timeout=SOCKET_TIMEOUT,
        shutdown_timeout=5,
    )
    server.server_name = "filon"  # the Server header: nothing about our software's version
    try:
        server.prepare()
    except OSError as exc:
        # Cheroot folds the bind error into its message; the errno survives only as text.
        cause = exc.__cause__
        in_use = isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE
        if in_use or f"[Errno {errno.EADDRINUSE}]" in str(exc):
            raise PortInUse(
                f"port {listener.port} on {listener.host} is in use: stop the program "
                f"using it or choose another port for the {listener.name}"
            ) from exc
        raise
    return server


def serve(listeners: list[Listener], *, threads: int, announce: Callable[[str], None]) -> None:
    """Bind every listener, announce ``name: URL`` lines, and serve until SIGTERM or SIGINT."""
    return_large_buffers_to_the_system()
    servers: list[wsgi.Server] = []
    stop = threading.Event()
    try:
        for listener in listeners:
            servers.append(bind(listener, threads))
        for listener, server in zip(listeners, servers, strict=True):
            announce(f"{listener.name}: {_url(listener.host, server.bind_addr[1])}")

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        workers = [threading.Thread(target=s.serve, daemon=True) for s in servers]
        for worker in workers:
            worker.start()
        while not stop.wait(0.5):
            if not all(worker.is_alive() for worker in workers):
                break
    finally:
        for server in servers:
            server.stop()
