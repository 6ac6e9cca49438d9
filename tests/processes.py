"""Running `oak-maillist` as a real process for tests: environment, ports, readiness."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
COMMAND = [sys.executable, "-m", "oak_maillist"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def base_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The caller's environment without OAK__ settings, plus a test database and cheap hashing."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OAK__") and key not in ("RUN_MODE", "CONFIG_DIR")
    }
    clean.update(
        {
            "CONFIG_DIR": str(REPO / "config"),
            "OAK__DATABASE__URL": database_url,
            "OAK__DATABASE__MIN_CONNECTIONS": "1",
            "OAK__SECURITY__ARGON2_TIME_COST": "1",
            "OAK__SECURITY__ARGON2_MEMORY_COST_KIB": "1024",
            "OAK__SECURITY__ARGON2_PARALLELISM": "1",
            "OAK__SERVER__STATIC_DIR": str(tmp_path / "no-frontend"),
            "OAK__ARCHIVE__STORAGE_PATH": str(tmp_path / "archives"),
            "OAK__DNS__DMARC_LOOKUPS": "false",
        }
    )
    return clean


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )


class Service:
    """A running `oak-maillist` process whose output goes to a file (a pipe could fill up)."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [*COMMAND, *args],
            env=env,
            cwd=REPO,
            text=True,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def wait_ready(self, url: str, seconds: float = 45) -> httpx.Response:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"process exited: {self.output()[-3000:]}")
            try:
                response = httpx.get(url, timeout=2)
                if response.status_code == 200:
                    return response
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("service never became ready")

    def stop(self) -> tuple[int, str]:
        """SIGTERM, wait, and return (exit status, output); kill if it hangs."""
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
        return self.process.returncode, self.log_path.read_text()

    def kill(self) -> str:
        """SIGKILL, as a crash or the OOM killer would; returns the output so far."""
        self.process.kill()
        self.process.wait(timeout=30)
        self._log.close()
        return self.log_path.read_text()
