"""docker-compose.yml as Compose itself reads it (no Docker engine runs here; the parser does)."""

import os
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO


def volume_target(volume: str | dict) -> str:  # type: ignore[type-arg]
    # Compose v1 prints the short form (source:target:mode), v2 the long form (a map).
    return volume["target"] if isinstance(volume, dict) else volume.split(":")[1]


def port_host_ip(port: str | dict) -> str | None:  # type: ignore[type-arg]
    if isinstance(port, dict):
        return port.get("host_ip")
    parts = str(port).split(":")
    return parts[0] if len(parts) == 3 else None


@pytest.fixture(scope="module")
def compose() -> dict:  # type: ignore[type-arg]
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose is missing: `make test` installs it (Debian package docker-compose)"
    env = {**os.environ, "NEO4J_PASSWORD": "from-the-environment"}
    done = subprocess.run(
        [tool, "-f", str(REPO / "docker-compose.yml"), "config"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)  # type: ignore[no-any-return]


def test_compose_runs_neo4j_5_with_a_volume_and_a_healthcheck(compose: dict) -> None:  # type: ignore[type-arg]
    neo4j = compose["services"]["neo4j"]
    assert neo4j["image"].startswith("neo4j:5.")
    assert any(volume_target(v) == "/data" for v in neo4j["volumes"])
    assert neo4j["healthcheck"]["test"]
    assert neo4j["environment"]["NEO4J_AUTH"] == "neo4j/from-the-environment"


def test_compose_points_kgtwin_at_neo4j_and_mosquitto(compose: dict) -> None:  # type: ignore[type-arg]
    service = compose["services"]["kgtwin"]
    assert service["environment"]["KGTWIN_GRAPH"] == "bolt://neo4j:7687"
    assert service["environment"]["KGTWIN_MQTT"].startswith("mqtt://mosquitto:")
    assert set(service["depends_on"]) == {"neo4j", "mosquitto"}
    assert "mosquitto" in compose["services"]
    assert service["command"][:2] == ["kgtwin", "serve"] and service["healthcheck"]["test"]


def test_compose_publishes_ports_on_loopback_only_and_holds_no_secret(compose: dict) -> None:  # type: ignore[type-arg]
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port_host_ip(port) == "127.0.0.1", f"{name} publishes {port} beyond loopback"
    assert "from-the-environment" not in (REPO / "docker-compose.yml").read_text()


def test_compose_refuses_to_start_without_a_password() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NEO4J_PASSWORD"}
    done = subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert done.returncode != 0 and "NEO4J_PASSWORD" in done.stderr
