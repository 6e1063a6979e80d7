"""Real engines for the whole session: the embedded FalkorDB and a local Neo4j 5, both started the
way `kgtwin db start` starts them, each test getting an empty graph."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kgtwin.config import Settings
from kgtwin.store import GraphStore, local, open_store

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ENGINES = ["falkordb", "neo4j"]
SKIP_NEO4J = os.environ.get("KGTWIN_SKIP_NEO4J") == "1"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kgtwin-data")


def engine_settings(engine: str, data_dir: Path) -> Settings:
    return Settings(graph="embedded" if engine == "falkordb" else "local-neo4j", data_dir=data_dir)


def require_engine(engine: str) -> None:
    if engine == "neo4j" and SKIP_NEO4J:
        pytest.skip("KGTWIN_SKIP_NEO4J=1: this run was told not to start Neo4j, so Neo4j tests are skipped")


@pytest.fixture(scope="session")
async def falkordb_store(data_dir: Path) -> AsyncIterator[GraphStore]:
    store = await open_store(engine_settings("falkordb", data_dir))
    yield store
    await store.close()


@pytest.fixture(scope="session")
async def neo4j_store(data_dir: Path) -> AsyncIterator[GraphStore]:
    require_engine("neo4j")
    store = await open_store(engine_settings("neo4j", data_dir))
    yield store
    await store.close()


async def wipe(store: GraphStore) -> None:
    await store.run("MATCH (n) DETACH DELETE n", write=True)


@pytest.fixture(params=ENGINES)
def engine_store(request: pytest.FixtureRequest) -> GraphStore:
    # A plain fixture: the session's async engine fixtures are set up outside the running loop.
    require_engine(request.param)
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


@pytest.fixture
async def store(engine_store: GraphStore) -> AsyncIterator[GraphStore]:
    """The same test on both engines, each on an empty graph."""
    await wipe(engine_store)
    yield engine_store


@pytest.fixture
def fresh_data(tmp_path: Path) -> Iterator[Path]:
    """A data directory of its own, for tests that kill or stop engines; nothing outlives the test."""
    yield tmp_path
    for engine in ENGINES:
        with contextlib.suppress(Exception):  # the test may have left it half-dead on purpose
            local.stop(Settings(data_dir=tmp_path), engine)


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    data_dir: Path | None = None,
    stdin: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run the real `kgtwin` command in a child process."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KGTWIN_")}
    if data_dir is not None:
        full_env["KGTWIN_DATA"] = str(data_dir)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "kgtwin.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        timeout=timeout,
    )


class Broker:
    """A real Mosquitto on loopback, with persistence so a restart keeps queued QoS 1 messages."""

    def __init__(self, home: Path) -> None:
        import shutil
        import socket

        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(self.binary).exists():
            if os.geteuid() == 0:
                subprocess.run(["apt-get", "install", "-y", "-qq", "mosquitto"], check=False, capture_output=True)
            assert Path(self.binary).exists(), (
                "mosquitto is missing: `make test` installs it (apt-get install mosquitto)"
            )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.home = home
        self.config = home / "mosquitto.conf"
        import pwd

        # Started as root, mosquitto drops to user `mosquitto`, which cannot write our folder and
        # would then silently keep nothing across a restart.
        user = pwd.getpwuid(os.geteuid()).pw_name
        self.config.write_text(
            f"user {user}\nlistener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {home}/\nmax_inflight_messages 1000\nmax_queued_messages 0\n"
            "autosave_interval 1\nlog_dest none\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import socket
        import time

        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("mosquitto did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # a clean stop saves the queued messages
            self.process.wait(10)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    running = Broker(tmp_path_factory.mktemp("mosquitto"))
    running.start()
    yield running
    running.stop()
