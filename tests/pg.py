"""A real PostgreSQL server for the tests: a throw-away cluster (``initdb``) in a temp folder,
listening on a free 127.0.0.1 port, with its unix socket in that folder.

PostgreSQL refuses to run as root: then the cluster belongs to the ``postgres`` OS user and
``initdb``/``pg_ctl`` run through ``runuser -u postgres --``. Missing server binaries fail the
tests (CI installs Debian's ``postgresql``); they are never skipped.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

#: Overrides where initdb, pg_ctl and postgres are looked for.
BINDIR_ENV = "CUEVA_PG_BINDIR"
MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install Debian's "
    "'postgresql' package (.ci/run does) or set CUEVA_PG_BINDIR to their folder"
)


def _has_server(d: Path) -> bool:
    return all((d / b).is_file() for b in ("initdb", "pg_ctl", "postgres"))


def find_bindir() -> Path:
    """The folder of the server binaries; raises RuntimeError(MISSING) when there is none."""
    candidates: list[Path] = []
    if os.environ.get(BINDIR_ENV):
        candidates.append(Path(os.environ[BINDIR_ENV]))
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    if found := shutil.which("initdb"):
        candidates.append(Path(found).resolve().parent)
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    )
    candidates += [Path(p) for p in versions]
    for d in candidates:
        if _has_server(d):
            return d
    raise RuntimeError(MISSING)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """One running cluster; :meth:`new_database` gives each test its own database."""

    root: Path
    port: int
    bindir: Path
    as_user: list[str]
    user: str = "cueva"
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def start(cls, durable: bool = False) -> PgServer:
        """Create and start a cluster. Tests run it without fsync (nothing to keep);
        ``durable`` keeps PostgreSQL's defaults (fsync, synchronous commit) for benchmarks."""
        bindir = find_bindir()
        root = Path(tempfile.mkdtemp(prefix="cueva-pgtest-"))
        as_user: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")  # Debian's package creates this user
            os.chown(root, pw.pw_uid, pw.pw_gid)
            as_user = ["runuser", "-u", "postgres", "--"]
        server = cls(root, _free_port(), bindir, as_user)
        data = root / "data"
        server._run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            server.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={server.port} "
            f"-c unix_socket_directories={root} -c max_connections=40"
        )
        if not durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        server._run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "server.log"),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        )
        return server

    def _run(self, *cmd: str) -> None:
        # cwd: the postgres OS user may not be allowed into the caller's folder (e.g. /root).
        got = subprocess.run([*self.as_user, *cmd], capture_output=True, text=True, cwd=self.root)
        if got.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.is_file() else ""
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({got.returncode}): {got.stderr.strip()}\n{tail}"
            )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its URL."""
        name = f"{prefix}_{next(self._ids)}"
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    @property
    def pid(self) -> int:
        """The postmaster's process id."""
        return int((self.root / "data" / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        try:
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
