"""What `gridjobs serve` listens with: TLS, or plaintext only where that is safe.

A non-loopback bind without TLS is refused unless `allow_plaintext` says a
TLS-terminating proxy sits in front. The key file must be private, as the
master key file must.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

from gridjobs.config import Settings
from gridjobs.device_keys.master import check_private
from gridjobs.errors import ConfigError

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})
LISTEN_BACKLOG = 2048   # uvicorn's own default


def check_transport(settings: Settings) -> None:
    """ConfigError (exit 2) for a TLS setting that cannot work, or a plaintext public bind."""
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError("TLS needs both --tls-cert and --tls-key (GRIDJOBS_TLS_CERT, GRIDJOBS_TLS_KEY)")
    if settings.tls_cert is not None:
        _readable(settings.tls_cert)
        check_private(settings.tls_key, _stat(settings.tls_key))
        return
    if not loopback(settings.host) and not settings.allow_plaintext:
        raise ConfigError(f"refusing to serve plaintext HTTP on {settings.host}: bearer tokens would cross "
                          "the network in clear. Give --tls-cert and --tls-key, or --allow-plaintext "
                          "if a TLS-terminating proxy is in front")


def loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def scheme(settings: Settings) -> str:
    return "https" if settings.tls_cert is not None else "http"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on at this moment, for test rigs and benchmarks that start a
    server in another process. Another process may take it first: such a caller retries with
    a new one. A server of this process binds port 0 instead (`listening_socket`)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound now: a busy port stops `serve` before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)  # listening at once: a second serve cannot bind it too
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; is another gridjobs "
                          "serve running there? (--port, GRIDJOBS_PORT)") from None
    sock.set_inheritable(True)
    return sock


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None


def _readable(path: Path) -> None:
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{path}: not readable")
