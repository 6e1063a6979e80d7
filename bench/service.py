"""What the benchmarks share: `kgtwin serve` as a process of its own, ready when returned."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def running_service(data_dir: Path, *options: str) -> AsyncIterator[str]:
    """`kgtwin serve` on a free port over the engine in `data_dir`; yields its base URL."""
    port = free_port()
    env = {**os.environ, "KGTWIN_DATA": str(data_dir), "KGTWIN_API_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, "-m", "kgtwin.cli", "serve", *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as probe:
            for _ in range(600):
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get("/readyz")).status_code == 200:
                        break
                if server.poll() is not None:
                    raise RuntimeError("kgtwin serve stopped before it was ready")
                await asyncio.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(30)
