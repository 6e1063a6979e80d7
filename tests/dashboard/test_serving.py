"""The app serves the dashboard's files at / to anyone (its data needs a key), or says how to build them."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from kgtwin.api.app import DASHBOARD, create_app
from kgtwin.api.auth import create_key
from kgtwin.config import Settings
from kgtwin.store import GraphStore
from tests.api.conftest import serve
from tests.dashboard.conftest import build_dashboard


async def test_the_bundle_is_public_and_the_data_behind_it_is_not(falkordb_store: GraphStore, tmp_path: Path) -> None:
    build_dashboard()
    settings = Settings(data_dir=tmp_path)
    key = create_key(settings.key_file, "viewer", ["viewer"])
    async for _, base in serve(settings, falkordb_store):
        async with httpx.AsyncClient(base_url=base) as client:
            page = await client.get("/")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            assert (DASHBOARD / "index.html").read_text() == page.text
            for asset in re.findall(r'(?:src|href)="\./(assets/[^"]+)"', page.text):
                assert (await client.get(f"/{asset}")).status_code == 200, asset
            assert (await client.post("/graphql", json={"query": "{ models { id } }"})).status_code == 401
            answer = await client.post(
                "/graphql", json={"query": "{ models { id } }"}, headers={"Authorization": f"Bearer {key}"}
            )
            assert answer.status_code == 200 and "errors" not in answer.json()
            assert isinstance(answer.json()["data"]["models"], list)


async def test_without_a_bundle_the_page_says_how_to_build_it(falkordb_store: GraphStore, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    app = create_app(settings, falkordb_store, dashboard=tmp_path / "no-bundle")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kgtwin") as client:
        page = await client.get("/")
    assert page.status_code == 404
    assert "make web" in page.text and "npm run build" in page.text
