"""The API served by a real uvicorn on loopback, over the session's engines, with one key per role."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
import websockets

from kgtwin.api.app import create_app
from kgtwin.api.auth import create_key
from kgtwin.config import Settings
from kgtwin.store import GraphStore

ROLES = ("viewer", "operator", "analyst", "admin")


@dataclass
class Api:
    base: str
    keys: dict[str, str]
    app: Any
    settings: Settings
    client: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.AsyncClient(base_url=self.base, timeout=30)

    @property
    def twin(self) -> Any:
        return self.app.state.twin

    def headers(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"} if role else {}

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, role: str | None = "viewer", **kw: Any
    ) -> dict[str, Any]:
        """A GraphQL call; the whole response body (data, errors, extensions)."""
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=self.headers(role), **kw
        )
        body = response.json()
        body["status"] = response.status_code
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None, role: str = "viewer") -> dict[str, Any]:
        body = await self.gql(query, variables, role)
        assert "errors" not in body, body["errors"]
        return body["data"]

    def add_key(self, name: str, roles: list[str], model: str | None = None, building: str | None = None) -> str:
        key = create_key(self.settings.key_file, name, roles, model, building)
        self.twin.keys.reload()
        self.keys[name] = key
        return key

    @contextlib.asynccontextmanager
    async def subscribe(self, query: str, variables: dict[str, Any] | None = None, role: str = "viewer"):  # type: ignore[no-untyped-def]
        """A graphql-transport-ws subscription; yields an async function that returns the next payload."""
        url = self.base.replace("http://", "ws://") + "/graphql"
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(orjson.dumps({"type": "connection_init", "payload": {"apiKey": self.keys[role]}}).decode())
            ack = orjson.loads(await ws.recv())
            assert ack["type"] == "connection_ack", ack
            await ws.send(
                orjson.dumps(
                    {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
                ).decode()
            )

            async def next_message(timeout: float = 5.0) -> dict[str, Any]:
                while True:
                    message = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
                    if message["type"] in ("ping", "pong"):
                        continue
                    assert message["type"] == "next", message
                    assert "errors" not in message["payload"], message["payload"]["errors"]
                    return message["payload"]["data"]

            await asyncio.sleep(0.2)  # the server has registered the subscription
            yield next_message


async def serve(settings: Settings, store: GraphStore | None) -> AsyncIterator[tuple[Any, str]]:
    app = create_app(settings, store)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on", ws="websockets-sansio")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def running_api(store: GraphStore, data_dir: Path, **settings: Any) -> AsyncIterator[Api]:
    """The API on its own port with one key per role; settings override the defaults."""
    config = Settings(data_dir=data_dir, **settings)
    keys = {role: create_key(config.key_file, role, [role]) for role in ROLES}
    async for app, base in serve(config, store):
        running = Api(base, keys, app, config)
        try:
            yield running
        finally:
            await running.client.aclose()


@pytest.fixture
async def api(store: GraphStore, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(store, tmp_path) as running:
        yield running
