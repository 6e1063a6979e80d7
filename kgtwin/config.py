"""Settings from the environment (KGTWIN_*), in one place; CLI options override them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from kgtwin.errors import ConfigError

ENGINES_LOCAL = {"embedded": "falkordb", "local-neo4j": "neo4j"}
NEO4J_SCHEMES = {"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"}


@dataclass(frozen=True)
class GraphTarget:
    """Where the graph lives, parsed from KGTWIN_GRAPH."""

    engine: str  # "falkordb" or "neo4j"
    local: bool  # started and supervised by kgtwin under the data directory
    uri: str = ""  # neo4j driver URI, for external Neo4j
    host: str = "127.0.0.1"
    port: int = 0
    graph: str = "kgtwin"  # FalkorDB graph name
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Settings:
    graph: str = "embedded"
    data_dir: Path = Path(".kgtwin")
    graph_name: str = "kgtwin"
    neo4j_user: str = "neo4j"
    neo4j_password: str | None = field(default=None, repr=False)
    neo4j_database: str | None = None
    falkordb_password: str | None = field(default=None, repr=False)
    db_port: int = 0  # 0: the local server picks a free port
    neo4j_heap: str = "1g"
    neo4j_pagecache: str = "512m"
    query_timeout_ms: int = 60_000
    # The API service (`kgtwin serve`)
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    api_keys_file: Path | None = None  # default: <data>/api-keys.yaml
    api_keys: str | None = field(default=None, repr=False)  # name:key:roles[:model[:building]],...
    cors_origins: tuple[str, ...] = ()
    dev_mode: bool = False  # GraphiQL at /graphql
    max_query_depth: int = 12
    max_query_cost: int = 500_000  # objects a GraphQL query may return, estimated from its page sizes
    max_request_bytes: int = 1_000_000
    request_timeout_s: float = 30.0
    mqtt: str | None = None  # mqtt://host:port the service ingests from, when set
    public_url: str = "http://127.0.0.1:8080"  # where the API is reached: RDF links to time series lead there
    rdf_base: str = "https://kgtwin.dev/twin/"  # base IRI of exported instances: <base><model>/<GlobalId>

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        port = env.get("KGTWIN_DB_PORT", "0")
        if not port.isdigit() or not 0 <= int(port) < 65536:
            raise ConfigError(f"KGTWIN_DB_PORT={port!r} is not a TCP port number (0-65535)")
        return cls(
            graph=env.get("KGTWIN_GRAPH", "embedded"),
            data_dir=Path(env.get("KGTWIN_DATA", ".kgtwin")),
            graph_name=env.get("KGTWIN_GRAPH_NAME", "kgtwin"),
            neo4j_user=env.get("KGTWIN_NEO4J_USER", "neo4j"),
            neo4j_password=env.get("KGTWIN_NEO4J_PASSWORD"),
            neo4j_database=env.get("KGTWIN_NEO4J_DATABASE") or None,
            falkordb_password=env.get("KGTWIN_FALKORDB_PASSWORD"),
            db_port=int(port),
            neo4j_heap=env.get("KGTWIN_NEO4J_HEAP", "1g"),
            neo4j_pagecache=env.get("KGTWIN_NEO4J_PAGECACHE", "512m"),
            api_host=env.get("KGTWIN_API_HOST", "127.0.0.1"),
            api_port=_integer(env, "KGTWIN_API_PORT", 8080),
            api_keys_file=Path(env["KGTWIN_API_KEYS_FILE"]) if env.get("KGTWIN_API_KEYS_FILE") else None,
            api_keys=env.get("KGTWIN_API_KEYS") or None,
            cors_origins=tuple(o.strip() for o in env.get("KGTWIN_CORS_ORIGINS", "").split(",") if o.strip()),
            dev_mode=env.get("KGTWIN_DEV", "") in ("1", "true", "yes"),
            max_query_depth=_integer(env, "KGTWIN_MAX_QUERY_DEPTH", 12),
            max_query_cost=_integer(env, "KGTWIN_MAX_QUERY_COST", 500_000),
            max_request_bytes=_integer(env, "KGTWIN_MAX_REQUEST_BYTES", 1_000_000),
            request_timeout_s=float(_integer(env, "KGTWIN_REQUEST_TIMEOUT", 30)),
            mqtt=env.get("KGTWIN_MQTT") or None,
            public_url=http_url(env.get("KGTWIN_PUBLIC_URL", "http://127.0.0.1:8080"), "KGTWIN_PUBLIC_URL").rstrip("/"),
            rdf_base=rdf_base(env.get("KGTWIN_RDF_BASE", "https://kgtwin.dev/twin/")),
        )

    @property
    def key_file(self) -> Path:
        return self.api_keys_file or self.data_dir / "api-keys.yaml"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def target(self) -> GraphTarget:
        return parse_graph_target(self.graph, self)


def _integer(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit():
        raise ConfigError(f"{name}={value!r} is not a whole number")
    return int(value)


def http_url(value: str, variable: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{variable}={value!r} is not an http(s) URL without query, e.g. https://twin.example.org")
    return value.strip()


def rdf_base(value: str) -> str:
    """The base IRI of exported instances, ending in '/' so that '<base><model>/<id>' is a path."""
    base = http_url(value, "KGTWIN_RDF_BASE")
    return base if base.endswith("/") else base + "/"


def parse_graph_target(value: str, settings: Settings) -> GraphTarget:
    """Turn KGTWIN_GRAPH into a target, or say in one line why it cannot be one."""
    value = value.strip()
    if value in ENGINES_LOCAL:
        return GraphTarget(engine=ENGINES_LOCAL[value], local=True, graph=settings.graph_name)
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme in NEO4J_SCHEMES:
        if not parts.hostname:
            raise ConfigError(f"KGTWIN_GRAPH={value!r} has no host; write e.g. bolt://127.0.0.1:7687")
        return GraphTarget(engine="neo4j", local=False, uri=f"{scheme}://{parts.netloc.rpartition('@')[2]}")
    if scheme == "falkordb":
        if not parts.hostname:
            raise ConfigError(f"KGTWIN_GRAPH={value!r} has no host; write e.g. falkordb://127.0.0.1:6379/kgtwin")
        graph = parts.path.strip("/") or settings.graph_name
        try:
            port = parts.port or 6379
        except ValueError as exc:
            raise ConfigError(f"KGTWIN_GRAPH={value!r} has an invalid port") from exc
        password = unquote(parts.password) if parts.password else settings.falkordb_password
        return GraphTarget(
            engine="falkordb", local=False, host=parts.hostname, port=port, graph=graph, password=password
        )
    shown = scheme or value
    raise ConfigError(
        f"KGTWIN_GRAPH={value!r}: unknown engine {shown!r}; use 'embedded' (FalkorDB, the default), "
        "'local-neo4j', neo4j://, bolt://, neo4j+s:// or falkordb://host:port/graph"
    )
