"""The client side of a local engine: find the running server or start its supervisor, share it
between kgtwin processes through leases, clear a stale lock left by a crash, and stop it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kgtwin.config import Settings
from kgtwin.errors import ConfigError, EngineUnavailable
from kgtwin.store.servers import LocalServer, local_server, write_private


@dataclass(frozen=True)
class ServerInfo:
    engine: str
    host: str
    port: int
    supervisor_pid: int
    server_pid: int
    persistent: bool
    password_file: Path
    password: str = field(repr=False, default="")

    @property
    def address(self) -> str:
        scheme = "bolt" if self.engine == "neo4j" else "falkordb"
        return f"{scheme}://{self.host}:{self.port}"


class Lease:
    """Held while a process uses a local server; the supervisor stops the server when none is held."""

    def __init__(self, home: Path) -> None:
        self.path = home / "leases" / f"{os.getpid()}-{secrets.token_hex(4)}.lease"
        self._file = open(self.path, "w")  # noqa: SIM115 - held open: the lock lives with the lease
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def release(self) -> None:
        if not self._file.closed:
            self.path.unlink(missing_ok=True)
            self._file.close()


def start(
    settings: Settings, engine: str, *, persistent: bool, report: Callable[[str], None] = lambda _: None
) -> tuple[ServerInfo, Lease | None]:
    """Return the running server for this data directory, starting it if needed.

    persistent=False takes a lease: the server lives while some process holds one.
    persistent=True (`kgtwin db start`) keeps it up until `kgtwin db stop`.
    """
    server = local_server(engine, settings)
    server.check_prerequisites()
    home = _prepare_home(server, settings)
    with _exclusive(home / "start.lock", server.startup_seconds + 120):
        lease = None if persistent else Lease(home)
        try:
            flag = home / "persistent"
            state = read_state(home)
            if state and state.get("status") == "stopping":
                _wait_until_gone(home, server.engine)
                state = read_state(home)
            if state and supervisor_alive(home) and state.get("status") == "ready":
                if persistent:
                    flag.touch()
                return _info(server, state, persistent or flag.exists()), lease
            if state:
                _clear_stale(home, state, report)
            server.prepare(report)
            _ensure_password(home)
            flag.touch() if persistent else flag.unlink(missing_ok=True)
            supervisor = _spawn_supervisor(server, settings)
            state = _wait_for_supervisor(server, supervisor)
            return _info(server, state, persistent), lease
        except BaseException:
            if lease:
                lease.release()
            raise


def status(settings: Settings, engine: str) -> ServerInfo | None:
    server = local_server(engine, settings)
    state = read_state(server.home)
    if state and state.get("status") == "ready" and supervisor_alive(server.home):
        return _info(server, state, (server.home / "persistent").exists())
    return None


def stop(settings: Settings, engine: str, timeout: float = 120.0) -> bool:
    """Stop the server cleanly; False when none was running."""
    home = local_server(engine, settings).home
    state = read_state(home)
    if not state or not supervisor_alive(home):
        if state:
            _clear_stale(home, state, lambda _: None)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(int(state["supervisor_pid"]), signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while supervisor_alive(home):
        if time.monotonic() > deadline:
            raise EngineUnavailable(f"the {engine} server did not stop within {timeout:.0f} s")
        time.sleep(0.1)
    return True


def read_state(home: Path) -> dict[str, object] | None:
    try:
        return dict(json.loads((home / "state.json").read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def supervisor_alive(home: Path) -> bool:
    """The supervisor holds supervisor.lock for its whole life; if we can take it, none is alive."""
    try:
        with open(home / "supervisor.lock", "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False
    except FileNotFoundError:
        return False


def _wait_until_gone(home: Path, engine: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while supervisor_alive(home):
        if time.monotonic() > deadline:
            raise EngineUnavailable(f"the {engine} server is stopping and did not finish within {timeout:.0f} s")
        time.sleep(0.1)


def _prepare_home(server: LocalServer, settings: Settings) -> Path:
    home = server.home
    try:
        (home / "leases").mkdir(parents=True, exist_ok=True)
        probe = home / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"the data directory {settings.data_dir} is not writable ({exc.strerror or exc}): "
            "set KGTWIN_DATA (or --data) to a folder you can write"
        ) from None
    return home


def _ensure_password(home: Path) -> str:
    path = home / "password"
    if not path.exists():
        write_private(path, secrets.token_urlsafe(24))
    return path.read_text().strip()


def _spawn_supervisor(server: LocalServer, settings: Settings) -> subprocess.Popen[bytes]:
    log = open(server.home / "supervisor.log", "ab")  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        [sys.executable, "-m", "kgtwin.store.supervisor", settings_argument(settings), server.engine],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=server.home,
        start_new_session=True,  # a Ctrl-C in the user's terminal must not kill a shared server
    )


def _wait_for_supervisor(server: LocalServer, supervisor: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + server.startup_seconds + 30
    while time.monotonic() < deadline:
        state = read_state(server.home)
        if state and state.get("supervisor_pid") == supervisor.pid:
            if state.get("status") == "ready":
                return state
            if state.get("status") == "failed":
                raise EngineUnavailable(f"cannot start the local {server.engine} engine: {state.get('error')}")
        if supervisor.poll() is not None:
            tail = (server.home / "supervisor.log").read_text(errors="replace").strip().splitlines()[-1:]
            raise EngineUnavailable(
                f"the {server.engine} supervisor exited with code {supervisor.returncode}: "
                f"{tail[0] if tail else 'no output'}"
            )
        time.sleep(0.1)
    supervisor.terminate()
    raise EngineUnavailable(f"the local {server.engine} engine did not start in time; see {server.log_path}")


def _clear_stale(home: Path, state: dict[str, object], report: Callable[[str], None]) -> None:
    """A state file without a live supervisor is what a crash leaves behind."""
    pid = int(state.get("server_pid") or 0)
    # PR_SET_PDEATHSIG normally takes the server down with its supervisor; if it survived,
    # it still holds the data files, so it goes before a new one starts on them.
    if pid and _cmdline_mentions(pid, str(home)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    (home / "state.json").unlink(missing_ok=True)
    report(f"Cleared a stale lock left by process {state.get('supervisor_pid')} in {home}")


def _cmdline_mentions(pid: int, text: str) -> bool:
    try:
        return text in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False


def _info(server: LocalServer, state: dict[str, object], persistent: bool) -> ServerInfo:
    password_file = server.home / "password"
    return ServerInfo(
        engine=server.engine,
        host=str(state.get("host", "127.0.0.1")),
        port=int(state["port"]),  # type: ignore[arg-type]
        supervisor_pid=int(state["supervisor_pid"]),  # type: ignore[arg-type]
        server_pid=int(state.get("server_pid") or 0),  # type: ignore[arg-type]
        persistent=persistent,
        password_file=password_file,
        password=password_file.read_text().strip(),
    )


@contextlib.contextmanager
def _exclusive(path: Path, timeout: float) -> Iterator[None]:
    with open(path, "a") as f:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EngineUnavailable(
                        f"another kgtwin process holds {path} (it is starting the engine)"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def settings_argument(settings: Settings) -> str:
    values = asdict(settings)
    values["data_dir"] = str(settings.data_dir.resolve())
    for secret in ("neo4j_password", "falkordb_password"):
        values.pop(secret, None)  # the supervisor reads its password from the data directory
    return json.dumps(values)
