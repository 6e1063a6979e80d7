"""The supervisor process of a local engine: starts the server, restarts it if it dies, stops it
when the last kgtwin client has gone (or on `kgtwin db stop`), and never leaves an orphan.

Started detached by kgtwin.store.local; one per engine and data directory, guarded by a lock
that it holds for its whole life, so a lock nobody holds is stale by construction.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kgtwin.config import Settings
from kgtwin.store.servers import LocalServer, free_port, local_server, port_is_free

IDLE_GRACE_SECONDS = 2.0
STOP_GRACE_SECONDS = 60.0
MAX_RESTARTS_PER_MINUTE = 5

_PR_SET_PDEATHSIG = 1


def _die_with_supervisor() -> None:
    # The server gets SIGTERM when its supervisor dies, even by kill -9: no orphans.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def live_leases(leases: Path) -> int:
    """Clients hold an exclusive lock on their lease file; a lease we can lock is a dead client's."""
    alive = 0
    for lease in leases.glob("*.lease"):
        try:
            with open(lease, "a") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    alive += 1
                    continue
            lease.unlink(missing_ok=True)
        except FileNotFoundError:
            continue
    return alive


class Supervisor:
    def __init__(self, server: LocalServer, port: int) -> None:
        self.server = server
        self.home = server.home
        self.requested_port = port
        self.state_path = self.home / "state.json"
        self.stopping = False
        self.child: subprocess.Popen[bytes] | None = None
        self.password = (self.home / "password").read_text().strip()
        self.restarts: list[float] = []
        self.log_offset = 0

    def write_state(self, **state: object) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"engine": self.server.engine, "supervisor_pid": os.getpid(), **state}))
        os.replace(tmp, self.state_path)

    def spawn(self, port: int) -> subprocess.Popen[bytes]:
        argv, extra_env = self.server.command(port, self.password)
        log = open(self.server.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.log_offset = log.tell()
        log.write(f"\n--- kgtwin supervisor {os.getpid()} starts {self.server.engine} on 127.0.0.1:{port}\n".encode())
        log.flush()
        env = {**os.environ, **extra_env}
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.home,
            preexec_fn=_die_with_supervisor,
        )

    def wait_ready(self, child: subprocess.Popen[bytes], port: int) -> str | None:
        """None when ready, else why not."""
        deadline = time.monotonic() + self.server.startup_seconds
        while time.monotonic() < deadline and not self.stopping:
            if child.poll() is not None:
                return (
                    f"the {self.server.engine} server exited with code {child.returncode}; see {self.server.log_path}"
                )
            if self.server.is_ready(port, self.password, self.server.log_path, self.log_offset):
                return None
            time.sleep(0.1)
        seconds = self.server.startup_seconds
        return f"the {self.server.engine} server did not become ready in {seconds:.0f} s; see {self.server.log_path}"

    def stop_if_still_idle(self, leases: Path, port: int) -> bool:
        """Decide to stop under the lock clients take to join, so none joins a server that is going."""
        with open(self.home / "start.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if live_leases(leases) or (self.home / "persistent").exists():
                    return False
                self.write_state(status="stopping", host="127.0.0.1", port=port)
                return True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def stop_child(self) -> None:
        if self.child is None or self.child.poll() is not None:
            return
        self.child.terminate()
        try:
            self.child.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()

    def run(self, persistent_flag: Path) -> int:
        port = self.requested_port or free_port()
        if self.requested_port and not port_is_free(port):
            self.write_state(
                status="failed",
                error=f"port {port} on 127.0.0.1 is already in use: "
                "set KGTWIN_DB_PORT to a free port, or 0 to let kgtwin choose",
            )
            return 1
        self.write_state(status="starting", port=port)
        self.child = self.spawn(port)
        error = self.wait_ready(self.child, port)
        if error:
            self.stop_child()
            self.write_state(status="failed", error=error)
            return 1
        self.write_state(status="ready", host="127.0.0.1", port=port, server_pid=self.child.pid)
        idle_since: float | None = None
        leases = self.home / "leases"
        while not self.stopping:
            time.sleep(0.2)
            if self.child.poll() is not None and not self.stopping:
                now = time.monotonic()
                self.restarts = [t for t in self.restarts if now - t < 60] + [now]
                print(f"server exited with code {self.child.returncode}; restarting", flush=True)
                if len(self.restarts) > MAX_RESTARTS_PER_MINUTE:
                    self.write_state(
                        status="failed",
                        error=f"the {self.server.engine} server keeps dying; see {self.server.log_path}",
                    )
                    return 1
                self.child = self.spawn(port)
                error = self.wait_ready(self.child, port)
                if error and not self.stopping:
                    continue
                self.write_state(status="ready", host="127.0.0.1", port=port, server_pid=self.child.pid)
            if persistent_flag.exists():
                idle_since = None
            elif live_leases(leases) == 0:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > IDLE_GRACE_SECONDS and self.stop_if_still_idle(leases, port):
                    break
            else:
                idle_since = None
        return 0


def main(argv: list[str]) -> int:
    settings = Settings(**{**json.loads(argv[0]), "data_dir": Path(json.loads(argv[0])["data_dir"])})
    server = local_server(argv[1], settings)
    home = server.home
    lock = open(home / "supervisor.lock", "a")  # noqa: SIM115 - held for the whole life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another supervisor serves this data directory already
    supervisor = Supervisor(server, settings.db_port)

    def request_stop(signum: int, frame: object) -> None:
        supervisor.stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    code = 1
    try:
        code = supervisor.run(home / "persistent")
    except Exception as exc:  # the client reads this line from the state file
        supervisor.write_state(status="failed", error=f"supervisor failed: {exc}")
        raise
    finally:
        supervisor.stop_child()
        if code == 0:
            (home / "state.json").unlink(missing_ok=True)
            (home / "persistent").unlink(missing_ok=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
