"""The engines kgtwin runs itself: shared between processes, loopback only, surviving kill -9."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kgtwin.config import Settings
from kgtwin.store import local, open_store
from tests.conftest import REPO, engine_settings, require_engine


def listening_addresses(port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Local addresses of sockets listening on `port`, read from the kernel's own tables."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address_hex, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                # The kernel prints each 32-bit word in host (little-endian) order.
                raw = b"".join(bytes.fromhex(address_hex[i : i + 8])[::-1] for i in range(0, len(address_hex), 8))
                address = ipaddress.ip_address(raw)
                if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                    address = address.ipv4_mapped
                found.add(address)
    return found


def wait_until(condition, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


async def write_batches(store, first: int, count: int, batch: int = 50) -> int:  # type: ignore[no-untyped-def]
    """Write nodes in acknowledged batches; returns how many were acknowledged."""
    acknowledged = 0
    for start in range(first, first + count, batch):
        rows = [{"uid": f"n{i}"} for i in range(start, start + batch)]
        await store.run("UNWIND $rows AS r MERGE (:Element {uid: r.uid})", {"rows": rows}, write=True)
        acknowledged += batch
    return acknowledged


@pytest.mark.parametrize("engine", ["falkordb", "neo4j"])
async def test_a_killed_server_comes_back_with_every_acknowledged_write(engine: str, fresh_data: Path) -> None:
    require_engine(engine)
    settings = engine_settings(engine, fresh_data)
    store = await open_store(settings)
    try:
        acknowledged = await write_batches(store, 0, 500)
        before = local.read_state(fresh_data / engine)
        assert before is not None
        os.kill(int(before["server_pid"]), signal.SIGKILL)
        # The next writes wait for the supervisor's restart and go through.
        acknowledged += await write_batches(store, 500, 500)
        after = local.read_state(fresh_data / engine)
        assert after is not None and after["server_pid"] != before["server_pid"]
        rows = await store.run("MATCH (n:Element) RETURN count(n) AS c")
        assert rows == [{"c": acknowledged}]
    finally:
        await store.close()


@pytest.mark.parametrize("engine", ["falkordb", "neo4j"])
async def test_engines_listen_on_loopback_only_with_a_private_password(engine: str, fresh_data: Path) -> None:
    require_engine(engine)
    info, _ = local.start(Settings(data_dir=fresh_data), engine, persistent=True)
    addresses = listening_addresses(info.port)
    assert addresses == {ipaddress.ip_address("127.0.0.1")}, f"{engine} listens on {addresses}, not only 127.0.0.1"
    assert (info.password_file.stat().st_mode & 0o777) == 0o600
    assert info.password not in " ".join(Path(f"/proc/{info.server_pid}/cmdline").read_text().split("\0"))


def test_a_crashed_supervisor_leaves_a_stale_lock_that_the_next_start_clears(fresh_data: Path) -> None:
    settings = Settings(graph="embedded", data_dir=fresh_data)
    info, _ = local.start(settings, "falkordb", persistent=True)

    async def write_and_count() -> int:
        async with await open_store(settings) as store:
            await write_batches(store, 0, 100)
            return int((await store.run("MATCH (n:Element) RETURN count(n) AS c"))[0]["c"])

    import asyncio

    assert asyncio.run(write_and_count()) == 100
    os.kill(info.supervisor_pid, signal.SIGKILL)
    wait_until(lambda: not alive(info.server_pid), 30)  # no orphan: the server followed its supervisor
    assert (fresh_data / "falkordb" / "state.json").exists()  # the lock a crash leaves
    assert local.status(settings, "falkordb") is None
    reports: list[str] = []
    again, _ = local.start(settings, "falkordb", persistent=True, report=reports.append)
    assert any("stale lock" in line for line in reports)
    assert again.supervisor_pid != info.supervisor_pid

    async def count() -> int:
        async with await open_store(settings) as store:
            return int((await store.run("MATCH (n:Element) RETURN count(n) AS c"))[0]["c"])

    assert asyncio.run(count()) == 100


HOLDER = """
import asyncio, json, sys
from kgtwin.store import open_store, local
from kgtwin.config import Settings
async def main():
    from pathlib import Path
    settings = Settings(graph="embedded", data_dir=Path(sys.argv[1]))
    store = await open_store(settings)
    await store.run("MERGE (:Element {uid: $u})", {"u": sys.argv[2]}, write=True)
    state = local.read_state(settings.data_dir.resolve() / "falkordb")
    print(json.dumps({"port": state["port"], "server_pid": state["server_pid"]}), flush=True)
    sys.stdin.readline()
    await store.close()
asyncio.run(main())
"""


def test_two_processes_share_one_server_which_stops_after_the_last_leaves(fresh_data: Path) -> None:
    def holder(name: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(fresh_data), name],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    import json

    first = holder("a")
    seen_first = json.loads(first.stdout.readline())  # type: ignore[union-attr]
    second = holder("b")
    seen_second = json.loads(second.stdout.readline())  # type: ignore[union-attr]
    assert seen_first == seen_second  # one server, not two fighting over the data directory
    first.communicate("\n", timeout=30)
    time.sleep(3)  # longer than the supervisor's idle grace: the second client still holds it
    assert alive(seen_first["server_pid"])
    second.communicate("\n", timeout=30)
    wait_until(lambda: not alive(seen_first["server_pid"]), 30)
    wait_until(lambda: not local.supervisor_alive(fresh_data / "falkordb"), 30)
    assert not (fresh_data / "falkordb" / "state.json").exists()  # a clean shutdown leaves no lock


@pytest.mark.parametrize("engine", ["falkordb", "neo4j"])
async def test_a_loaded_model_survives_kill_9_and_comes_back_promptly(engine: str, fresh_data: Path) -> None:
    """A large atomic write must be durable and quick to recover, not replayed query by query."""
    from kgtwin.sources.ifc import load_ifc
    from kgtwin.sources.ifc.sample import SampleSpec, write_sample

    require_engine(engine)
    model = fresh_data / "building.ifc"
    write_sample(model, SampleSpec(storeys=2, spaces_per_storey=250))
    store = await open_store(engine_settings(engine, fresh_data))
    try:
        await load_ifc(store, model, model="big")
        before = await store.run("MATCH (n {model: 'big'}) RETURN count(n) AS c")
        state = local.read_state(fresh_data / engine)
        assert state is not None
        os.kill(int(state["server_pid"]), signal.SIGKILL)
        killed_at = time.monotonic()
        after = await store.run("MATCH (n {model: 'big'}) RETURN count(n) AS c")
        assert after == before and before[0]["c"] > 5000
        assert time.monotonic() - killed_at < 60
    finally:
        await store.close()


@pytest.mark.parametrize("engine", ["falkordb", "neo4j"])
def test_a_stopped_engine_starts_again_on_its_data(engine: str, fresh_data: Path) -> None:
    require_engine(engine)
    settings = engine_settings(engine, fresh_data)
    import asyncio

    async def write() -> None:
        async with await open_store(settings) as store:
            await store.run("CREATE (:Element {uid: 'kept'})", write=True)

    async def read() -> list[dict[str, object]]:
        async with await open_store(settings) as store:
            return await store.run("MATCH (n:Element) RETURN n.uid AS uid")

    local.start(settings, engine, persistent=True)
    asyncio.run(write())
    assert local.stop(settings, engine)
    local.start(settings, engine, persistent=True)  # the same password, already set, on the same data
    assert asyncio.run(read()) == [{"uid": "kept"}]
