"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), served by
a real uvicorn over the embedded engine with a sample building and its sensors loaded."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import ifcopenshell
import pytest

from kgtwin.api.app import DASHBOARD
from kgtwin.api.auth import create_key
from kgtwin.config import Settings
from kgtwin.sources.ifc import load_ifc
from kgtwin.sources.ifc.sample import SampleSpec, write_sample
from kgtwin.sources.sensors import PointSpec, load_registry
from kgtwin.store import GraphStore
from tests.api.conftest import api, serve  # noqa: F401  (api: the footprint tests use it)
from tests.conftest import REPO, wipe

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts" / "dashboard"
MODEL = "tower"
LIMITS = (15.0, 28.0)


@dataclass
class Twin:
    """The served twin the browser looks at, and a way to reach it besides the browser."""

    base: str
    key: str  # an operator's: the dashboard acknowledges and resolves anomalies
    store: GraphStore
    ifc: ifcopenshell.file
    client: httpx.AsyncClient

    @property
    def page_url(self) -> str:
        return f"{self.base}/#key={self.key}"

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.client.post("/graphql", json={"query": query, "variables": variables or {}})
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]  # type: ignore[no-any-return]

    async def ingest(self, readings: list[dict[str, Any]]) -> None:
        response = await self.client.post("/ingest", json=readings)
        assert response.status_code == 200 and response.json()["rejected"] == [], response.text

    def space(self, name: str) -> ifcopenshell.entity_instance:
        return next(s for s in self.ifc.by_type("IfcSpace") if s.Name == name)

    def sensor_id(self, room: str) -> str:
        """The field id the registry gave the room's air temperature sensor."""
        return f"temp-{room}"


def build_dashboard() -> None:
    """The bundle the app serves, built the way `make test` builds it when it is missing or stale."""
    make = shutil.which("make")
    assert make, "make is missing: the dashboard is built by `make web`"
    done = subprocess.run([make, "-s", "web"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and (DASHBOARD / "index.html").is_file(), (
        f"`make web` could not build the dashboard:\n{done.stdout}\n{done.stderr}"
    )


@pytest.fixture(scope="module")
async def twin(falkordb_store: GraphStore, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Twin]:
    build_dashboard()
    store = falkordb_store
    await wipe(store)
    home = tmp_path_factory.mktemp("dashboard")
    path = home / "tower.ifc"
    write_sample(path, SampleSpec(storeys=2, spaces_per_storey=4))
    await load_ifc(store, path, model=MODEL)
    ifc = ifcopenshell.open(str(path))
    rooms = {
        rel.RelatingStructure.Name: s
        for rel in ifc.by_type("IfcRelContainedInSpatialStructure")
        if rel.RelatingStructure.is_a("IfcSpace")
        for s in rel.RelatedElements
        if s.is_a("IfcSensor") and s.PredefinedType == "TEMPERATURESENSOR"
    }
    specs = [
        PointSpec(
            id=f"temp-{room}",
            ifc=sensor.GlobalId,
            model=MODEL,
            brick_class="Air_Temperature_Sensor",
            unit="degC",
            interval_s=60,
            min_limit=LIMITS[0],
            max_limit=LIMITS[1],
        )
        for room, sensor in rooms.items()
    ]
    assert (await load_registry(store, specs)).aliased == len(specs) == 8
    settings = Settings(data_dir=home, request_timeout_s=30)
    key = create_key(settings.key_file, "site-lead", ["operator"])
    async for _, base in serve(settings, store):
        async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
            yield Twin(base, key, store, ifc, client)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    assert CHROMIUM.exists(), "Chromium is missing: `make test-deps` installs it (apt-get install chromium)"
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory(prefix="kgtwin-chromium-") as profile:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                args=CHROMIUM_FLAGS,
                headless=True,
                viewport={"width": 1400, "height": 1000},
            )
            try:
                yield context
            finally:
                await context.close()


@pytest.fixture
async def page(browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A fresh tab; its screenshot lands in test-artifacts/dashboard/<test>.png, pass or fail."""
    tab = await browser.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    tab.problems = problems
    try:
        yield tab
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_")
        await tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        await tab.close()
