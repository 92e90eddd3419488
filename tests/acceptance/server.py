"""Run `gridjobs serve` as a subprocess and talk to it over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from gridjobs.device_keys import ensure_master_key
from gridjobs.transport import free_port

READY_TIMEOUT_S = 120.0
PORT_ATTEMPTS = 3


class ServerProcess:
    """`gridjobs serve` on `db_url`, or with db_url None on the embedded PostgreSQL
    in `data_dir`."""

    def __init__(self, db_url: str | None, log_path: Path, *, data_dir: Path | None = None,
                 scheme: str = "http", extra_args: list[str] | None = None, ca_file: Path | None = None,
                 **env: str) -> None:
        self.db_url = db_url
        self.data_dir = data_dir
        self.scheme = scheme
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.extra_args = extra_args or []
        self.verify = str(ca_file) if ca_file else True
        self.log_path = log_path
        self.env = {**os.environ, "GRIDJOBS_LEASE_S": "2", "GRIDJOBS_POLL_S": "0.2",
                    "GRIDJOBS_REQUEST_TIMEOUT_S": "0.5",
                    # where `serve` writes the bootstrap admin token (servers of one test share it)
                    "GRIDJOBS_DATA_DIR": str(data_dir or log_path.parent), **env}
        self.token_file = Path(self.env["GRIDJOBS_DATA_DIR"]) / "admin.token"
        if db_url is None:  # embedded: <data_dir>/master.key is created on first use
            self.env.pop("GRIDJOBS_DATABASE_URL", None)
        else:  # an external database needs a master key
            key_file = log_path.parent / "master.key"
            ensure_master_key(key_file)
            self.env["GRIDJOBS_MASTER_KEY_FILE"] = str(key_file)
        self.proc: subprocess.Popen | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The bootstrap admin token, as an Authorization header."""
        return {"Authorization": f"Bearer {self.token_file.read_text().strip()}"}

    async def start(self) -> None:
        """Start and wait until ready. The port was picked free when this object was made;
        if something else (a test run beside this one) took it since, a new one is picked."""
        for _ in range(PORT_ATTEMPTS):
            offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            where = (["--database-url", self.db_url] if self.db_url is not None
                     else ["--data-dir", str(self.data_dir)])
            cmd = [sys.executable, "-m", "gridjobs", "serve", *where,
                   "--port", str(self.port), "--shards", "2", *self.extra_args]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                             start_new_session=True)
            if await self._wait_ready(offset):
                return
            self.port = free_port()
            self.url = f"{self.scheme}://127.0.0.1:{self.port}"
        raise RuntimeError(f"no free port after {PORT_ATTEMPTS} attempts: {self._log_since(offset)}")

    async def _wait_ready(self, offset: int) -> bool:
        """True once this process answers /readyz; False if its port was taken. Another
        server on the port answering does not count: this one must have said it listens."""
        async with httpx.AsyncClient(base_url=self.url, timeout=2, verify=self.verify) as client:
            async with asyncio.timeout(READY_TIMEOUT_S):
                while True:
                    if self.proc.poll() is not None:
                        said = self._log_since(offset)
                        if "Address already in use" in said:
                            return False
                        raise RuntimeError(f"server exited: {said[-2000:]}")
                    try:
                        if ((await client.get("/readyz")).status_code == 200
                                and f"listening on {self.url}" in self._log_since(offset)):
                            return True
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.3)

    def _log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def kill9(self) -> None:
        """SIGKILL the server process alone, then sweep what it started (Ray)."""
        self.proc.kill()
        self.proc.wait(timeout=30)
        self._sweep()

    def kill_group_now(self) -> None:
        """SIGKILL the server and everything it started (Ray) in one signal, without waiting:
        safe inside a simulated device's write, which is then applied and never answered."""
        os.killpg(self.proc.pid, signal.SIGKILL)

    def _sweep(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def terminate(self, timeout_s: float) -> int | None:
        """SIGTERM, as systemd or docker sends it; the exit status, or None if the
        process was still running after `timeout_s`."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return None

    def group_alive(self) -> list[int]:
        """Processes still in the server's process group (Ray's, say)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid and fields[0] != "Z":
                pids.append(int(stat.parent.name))
        return pids

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._sweep()
