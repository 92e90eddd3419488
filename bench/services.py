"""What a benchmark starts and stops: a database, a child process, a server.

Shared by `bench/shed.py` and `bench/intake.py` (run as scripts, so this
directory is first on sys.path). Everything listens on loopback only, every
wait is bounded, and every child is stopped by the `finally` of whoever
started it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

import gridjobs
from gridjobs.config import Settings
from gridjobs.device_keys import ensure_master_key
from gridjobs.bootstrap import database
from gridjobs.transport import free_port

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
KILL_TIMEOUT_S = 30.0
ADMIN_TIMEOUT_S = 30.0
READY_POLL_S = 0.2
FRESH_DATABASE_PREFIX = "gridjobs_bench_"

__all__ = ["HOST", "Child", "HttpServer", "bench_database", "exit_on_sigterm", "free_port",
           "gridjobs_serve", "source_revision"]


def source_revision() -> str:
    """`git describe --always --dirty` of the gridjobs being imported, or "unknown"."""
    checkout = Path(gridjobs.__file__).resolve().parent.parent
    if not (checkout / ".git").exists():
        return f"unknown ({checkout})"
    try:
        done = subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip()


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks stop our children."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))


# -- database -----------------------------------------------------------------

@contextmanager
def bench_database(url: str | None, workdir: Path) -> Iterator[str]:
    """Yield a DSN: a fresh database on `url`'s server, or the embedded PostgreSQL."""
    if url:
        with fresh_database(url) as dsn:
            yield dsn
        return
    # Exactly as gridjobs does it: `database()` starts pgserver in data_dir/pg.
    with database(Settings(database_url=None, data_dir=workdir)) as resolved:
        yield resolved.database_url


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """Create `gridjobs_bench_<random>` next to `url`'s database; drop it afterwards."""
    name = FRESH_DATABASE_PREFIX + secrets.token_hex(6)
    # Identifiers cannot be $n parameters; `name` is ours (a fixed prefix and hex digits).
    asyncio.run(_admin(url, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(url, name)
    finally:
        asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url, timeout=ADMIN_TIMEOUT_S)
    try:
        await conn.execute(statement, timeout=ADMIN_TIMEOUT_S)
    finally:
        await conn.close(timeout=ADMIN_TIMEOUT_S)


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


# -- child processes ------------------------------------------------------------

class Child:
    """A child process in its own process group.

    `stop()` sends SIGTERM, waits (bounded), kills if needed, then SIGKILLs
    whatever is left in the group (a gridjobs server's local Ray processes).
    """

    def __init__(self, cmd: Sequence[str], *, log_path: Path, stdout_pipe: bool = False,
                 env: dict[str, str] | None = None) -> None:
        self.cmd = list(cmd)
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.cmd, stdout=subprocess.PIPE if stdout_pipe else log, stderr=log,
                env=env, start_new_session=True,
            )

    def read_line(self, timeout_s: float) -> str:
        """The first line the child prints on stdout, waiting at most `timeout_s`."""
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        buffer = b""
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line from {self.cmd[:4]} within {timeout_s:g} s")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buffer += chunk
        return buffer.decode(errors="replace").strip()

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> int | None:
        """Stop the child and sweep its process group; return its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=KILL_TIMEOUT_S)
        self._sweep()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def _sweep(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own group: start_new_session
        except (ProcessLookupError, PermissionError):
            pass


class HttpServer(Child):
    """A child that serves HTTP on a loopback port; ready when `ready_path` answers 200."""

    def __init__(self, cmd: Sequence[str], *, port: int, log_path: Path,
                 env: dict[str, str] | None = None, token_file: Path | None = None) -> None:
        super().__init__(cmd, log_path=log_path, env=env)
        self.url = f"http://{HOST}:{port}"
        self.token_file = token_file

    @property
    def headers(self) -> dict[str, str]:
        """The bootstrap admin token of a `gridjobs serve`, as an Authorization header."""
        if self.token_file is None:
            return {}
        return {"Authorization": f"Bearer {self.token_file.read_text().strip()}"}

    async def wait_ready(self, ready_path: str, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=5.0) as client:
            async with asyncio.timeout(timeout_s):
                while True:
                    if self.exited():
                        raise RuntimeError(f"{self.cmd[:4]} exited: {self.log_tail()}")
                    try:
                        if (await client.get(ready_path)).status_code == 200:
                            return
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(READY_POLL_S)


BENCH_RATE_LIMITS = ",".join(f"{role}=1000000/1000000" for role in
                             ("viewer", "operator", "engineer", "installer", "secadm", "secaud"))


def gridjobs_serve(dsn: str, *, port: int, log_path: Path, shards: int | None = None,
                   intake_only: bool = False, env: dict[str, str] | None = None) -> HttpServer:
    """`gridjobs serve` as a subprocess, the way it is deployed; `env` adds GRIDJOBS_* settings."""
    key_file = log_path.parent / "master.key"  # an external database needs a master key
    ensure_master_key(key_file)
    cmd = [sys.executable, "-m", "gridjobs", "serve", "--database-url", dsn,
           "--host", HOST, "--port", str(port), "--master-key-file", str(key_file)]
    if shards is not None:
        cmd += ["--shards", str(shards)]
    if intake_only:
        cmd.append("--intake-only")
    # The admin token lands in the log's directory; benchmarks measure throughput, not budgets.
    env = {**os.environ, "GRIDJOBS_DATA_DIR": str(log_path.parent),
           "GRIDJOBS_RATE_LIMITS": BENCH_RATE_LIMITS, **(env or {})}
    return HttpServer(cmd, port=port, log_path=log_path, env=env,
                      token_file=log_path.parent / "admin.token")


def format_counts(counts: dict[str, int]) -> str:
    """Outcome counts for a report line: `a=1, b=2`, or `none`."""
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"
