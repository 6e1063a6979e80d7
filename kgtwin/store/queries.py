"""The named Cypher statements in queries/: loaded by name, so analysts read exactly what kgtwin runs.

Each file starts with a header of `// key: value` lines:

    // name: store/node_counts          (must match the file's path under queries/)
    // mode: read | write
    // params: {"model": "demo"}        (JSON: every parameter with an example value)
    // purpose: one line on what it answers
    // template: {"label": "Element"}     (optional: slots written {{label}} in the statement)

Labels, relationship types and the bounds of variable-length patterns cannot be Cypher
parameters, so a statement that needs them has template slots. A slot takes only plain
identifiers (a list renders as `:A:B`) or whole numbers, checked before they go into the text,
so a template never carries user text into Cypher.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from kgtwin.errors import ConfigError, UnknownQuery

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SLOT = re.compile(r"\{\{(\w+)\}\}")
QUERIES_DIR = Path(os.environ.get("KGTWIN_QUERIES", Path(__file__).resolve().parents[2] / "queries"))


@dataclass(frozen=True)
class Query:
    name: str
    text: str
    mode: str  # "read" or "write"
    purpose: str
    example_params: dict[str, object] = field(default_factory=dict)
    example_slots: dict[str, str | list[str]] = field(default_factory=dict)

    @property
    def writes(self) -> bool:
        return self.mode == "write"

    @property
    def is_template(self) -> bool:
        return bool(_SLOT.search(self.text))

    def render(self, **slots: str | int | list[str] | tuple[str, ...]) -> str:
        """The statement with its slots filled by identifiers (a list renders as `:A:B`) or integers."""

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in slots:
                raise ConfigError(f"query {self.name} needs its template slot {name!r}")
            value = slots[name]
            if isinstance(value, int) and not isinstance(value, bool):
                return str(int(value))
            parts = [value] if isinstance(value, str) else list(value)
            for part in parts:
                if not _IDENTIFIER.match(part):
                    raise ConfigError(f"query {self.name}: {part!r} is not a label or type name")
            return parts[0] if isinstance(value, str) else "".join(f":{p}" for p in parts)

        return _SLOT.sub(fill, self.text)


def parse_query_file(path: Path, root: Path) -> Query:
    name = path.relative_to(root).with_suffix("").as_posix()
    header: dict[str, str] = {}
    body: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not body and stripped.startswith("//"):
            key, sep, value = stripped[2:].partition(":")
            if sep:
                header[key.strip()] = value.strip()
            continue
        if stripped or body:
            body.append(line)
    where = f"{path}"
    if header.get("name") != name:
        raise ConfigError(f"{where}: header 'name: {header.get('name')}' must be '{name}'")
    mode = header.get("mode", "")
    if mode not in ("read", "write"):
        raise ConfigError(f"{where}: header 'mode:' must be read or write, not {mode!r}")
    if not header.get("purpose"):
        raise ConfigError(f"{where}: header 'purpose:' is missing")
    try:
        params = json.loads(header.get("params", "{}"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: header 'params:' is not JSON ({exc.msg})") from exc
    try:
        slots = json.loads(header.get("template", "{}"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: header 'template:' is not JSON ({exc.msg})") from exc
    text = "\n".join(body).strip()
    if not text:
        raise ConfigError(f"{where}: no statement after the header")
    missing = set(_SLOT.findall(text)) - set(slots)
    if missing:
        raise ConfigError(f"{where}: header 'template:' gives no example for {sorted(missing)}")
    return Query(name=name, text=text, mode=mode, purpose=header["purpose"], example_params=params, example_slots=slots)


@cache
def catalogue(root: Path = QUERIES_DIR) -> dict[str, Query]:
    """Every named query, by name."""
    if not root.is_dir():
        raise ConfigError(f"the queries folder {root} is missing; set KGTWIN_QUERIES to it")
    found = (parse_query_file(p, root) for p in sorted(root.rglob("*.cypher")))
    return {q.name: q for q in found}


def named(name: str) -> Query:
    try:
        return catalogue()[name]
    except KeyError:
        raise UnknownQuery(f"no query named {name!r}; `kgtwin query list` shows them") from None
