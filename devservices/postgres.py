"""PostgreSQL 15 (Debian's binaries) on a free port in a temp dir, run as the `postgres` user.

initdb refuses to run as root, so every binary runs under `runuser -u postgres --` when we are
root; the data dir is owned by postgres. fsync is off: this is for tests and demos only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from devservices.ports import free_port, wait_listening

PG_BIN = Path(os.environ.get("WM_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    """A throwaway cluster: `start()`, then `url(dbname)`; `cleanup()` stops it and removes the dir."""

    name = "postgres"

    def __init__(self, workdir: Path | None = None, port: int | None = None):
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="wm-postgres-"))
        self._own_dir = workdir is None
        self.port = port or free_port()
        self.running = False

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / "postgres.log"

    def _run(self, cmd: list[str], timeout_s: float = 60) -> None:
        try:
            subprocess.run(_as_postgres(cmd), check=True, capture_output=True, timeout=timeout_s)
        except FileNotFoundError as err:
            raise FileNotFoundError(f"{cmd[0]} not found: apt-get install postgresql (15)") from err
        except subprocess.CalledProcessError as err:
            raise RuntimeError(
                f"{Path(cmd[0]).name} failed: {err.stderr.decode(errors='replace')}\n{self.log_tail()}"
            ) from err

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.workdir, pw.pw_uid, pw.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            )
        opts = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_path),
                "-w",
                "-o",
                opts,
                "start",
            ]
        )
        self.running = True
        wait_listening(self.port, timeout_s=30)

    def create_database(self, name: str) -> str:
        """Create database `name` and return its SQLAlchemy URL."""
        if not name.isidentifier():
            raise ValueError(f"database name must be an identifier, got {name!r}")
        self._run(
            [
                str(PG_BIN / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                f'CREATE DATABASE "{name}"',
            ]
        )
        return self.url(name)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.running:
            self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
            self.running = False

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            if self._own_dir:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, n: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def __enter__(self) -> Postgres:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.cleanup()
