"""Sensor registries (YAML or CSV): points with their unit, expected interval and limits, bound to
a property of the element or space they measure, with a unit conversion and scale/offset."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pint
import yaml

from kgtwin.errors import KgtwinError
from kgtwin.model.schema import INDEXES
from kgtwin.sources.field import CONFLICT_RULES
from kgtwin.store import GraphStore

units = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# OPC UA node ids as the OPC UA specification writes them: `ns=2;s=Spindle.RPM`, `i=2258`, `nsu=urn:x;g=…`
_OPCUA_NODE_ID = re.compile(r"^((ns=\d+|nsu=[^;]+);)?[isgb]=.+$")


class RegistryError(KgtwinError):
    exit_code = 2


@dataclass(frozen=True)
class PointSpec:
    id: str
    brick_class: str
    unit: str
    model: str | None = None
    interval_s: float | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    ifc: str | None = None  # GlobalId of an IFC sensor this id stands for
    element: str | None = None  # GlobalId of what it is bound to
    space: str | None = None
    property: str | None = None
    property_unit: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    conflict: str = "physical_wins"  # who wins when the field states the bound property too
    sparkplug: str | None = None  # `group/edge node/[device/]metric` of a Sparkplug B metric
    opcua: str | None = None  # OPC UA node id, e.g. `ns=2;s=Spindle.RPM`


@dataclass
class RegistryResult:
    points: int = 0
    aliased: int = 0
    bound: int = 0
    problems: list[str] = field(default_factory=list)


def parse_unit(text: str, where: str) -> pint.Unit:
    try:
        return units.Unit(text)
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, ValueError, AttributeError):
        raise RegistryError(
            f"{where}: unknown unit {text!r} (use names such as degC, percent, ppm, kW, m3/h)"
        ) from None


def read_registry(path: Path) -> list[PointSpec]:
    """Parse and check a registry file; every problem names the file and the entry."""
    if not path.exists():
        raise RegistryError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        with open(path, newline="", encoding="utf-8") as f:
            entries: list[dict[str, Any]] = [
                {k: v for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)
            ]
        default_model = None
    else:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise RegistryError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(data, dict) or not isinstance(data.get("points"), list):
            raise RegistryError(f"{path}: expected a mapping with a 'points' list")
        entries, default_model = data["points"], data.get("model")
    specs, seen, sources = [], set(), {}
    for number, entry in enumerate(entries, 1):
        where = f"{path}, point {number}"
        if not isinstance(entry, dict) or not entry.get("id"):
            raise RegistryError(f"{where}: every point needs an 'id'")
        point_id = str(entry["id"])
        where = f"{path}, point {point_id!r}"
        if point_id in seen:
            raise RegistryError(f"{where}: declared twice")
        seen.add(point_id)
        brick_class = str(entry.get("class", "Point"))
        if not _IDENTIFIER.match(brick_class):
            raise RegistryError(f"{where}: class {brick_class!r} is not a Brick class name")
        unit = str(entry.get("unit", "dimensionless"))
        point_unit = parse_unit(unit, where)
        property_unit = entry.get("property_unit")
        if property_unit is not None:
            bound_unit = parse_unit(str(property_unit), where)
            if not point_unit.is_compatible_with(bound_unit):
                raise RegistryError(f"{where}: property_unit {property_unit} cannot hold values in {unit}")
        limits = entry.get("limits") or {}
        spec = PointSpec(
            id=point_id,
            brick_class=brick_class,
            unit=unit,
            model=entry.get("model", default_model),
            interval_s=_number(entry.get("interval"), where, "interval"),
            min_limit=_number(limits.get("min", entry.get("min")), where, "min"),
            max_limit=_number(limits.get("max", entry.get("max")), where, "max"),
            ifc=entry.get("ifc"),
            element=entry.get("element"),
            space=entry.get("space"),
            property=entry.get("property"),
            property_unit=str(property_unit) if property_unit else None,
            scale=_number(entry.get("scale"), where, "scale") or 1.0,
            offset=_number(entry.get("offset"), where, "offset") or 0.0,
            conflict=str(entry.get("conflict", "physical_wins")),
            sparkplug=_sparkplug_path(entry.get("sparkplug"), where),
            opcua=_opcua_node_id(entry.get("opcua"), where),
        )
        if spec.conflict not in CONFLICT_RULES:
            raise RegistryError(f"{where}: conflict {spec.conflict!r} is not one of {', '.join(CONFLICT_RULES)}")
        for source in (spec.sparkplug, spec.opcua):
            if source and sources.setdefault(source, point_id) != point_id:
                raise RegistryError(f"{where}: {source!r} already names point {sources[source]!r}")
        if (spec.element or spec.space or spec.ifc) and not spec.model:
            raise RegistryError(f"{where}: a point bound to a model's element needs 'model' (per point or at the top)")
        if spec.element and spec.space:
            raise RegistryError(f"{where}: bind to an element or a space, not both")
        specs.append(spec)
    return specs


def _sparkplug_path(value: Any, where: str) -> str | None:
    if value is None:
        return None
    path = str(value)
    parts = path.split("/")
    if len(parts) < 3 or not all(parts) or any(c in path for c in "+#"):
        raise RegistryError(
            f"{where}: sparkplug {path!r} is not group/edge node/[device/]metric (no empty parts, no + or #)"
        )
    return path


def _opcua_node_id(value: Any, where: str) -> str | None:
    if value is None:
        return None
    node_id = str(value).strip()
    if not _OPCUA_NODE_ID.match(node_id):
        raise RegistryError(f"{where}: opcua {node_id!r} is not an OPC UA node id such as ns=2;s=Spindle.RPM")
    return node_id


def _number(value: Any, where: str, name: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RegistryError(f"{where}: {name} {value!r} is not a number") from None


async def load_registry(store: GraphStore, specs: list[PointSpec]) -> RegistryResult:
    """Declare the points and their bindings; entries that name missing model objects are reported."""
    await store.ensure_schema(INDEXES)
    result = RegistryResult()
    by_class: dict[str, list[dict[str, Any]]] = defaultdict(list)
    aliases, bindings = [], defaultdict(list)
    for spec in specs:
        props = {
            "pointId": spec.id,
            "brickClass": spec.brick_class,
            "unit": spec.unit,
            "expectedInterval": spec.interval_s,
            "minLimit": spec.min_limit,
            "maxLimit": spec.max_limit,
            "model": spec.model,
            "sparkplugName": spec.sparkplug,
            "opcuaNodeId": spec.opcua,
        }
        props = {k: v for k, v in props.items() if v is not None}
        uid = f"{spec.model}:{spec.ifc}" if spec.ifc else spec.id
        if spec.ifc:
            aliases.append({"uid": uid, "props": props})
        else:
            by_class[spec.brick_class].append({"uid": uid, "props": {**props, "source": "registry"}})
        target = spec.element or spec.space
        if target and spec.property:
            label = "Element" if spec.element else "Space"
            binding = {
                "property": spec.property,
                "unit": spec.property_unit or spec.unit,
                "scale": spec.scale,
                "offset": spec.offset,
                "conflict": spec.conflict,
            }
            bindings[label].append({"target": f"{spec.model}:{target}", "point": uid, "props": binding})
    for brick_class, rows in by_class.items():
        await store.execute("sensors/upsert_points", {"rows": rows}, labels=[brick_class])
        result.points += len(rows)
    if aliases:
        found = {r["uid"] for r in await store.execute("sensors/alias_points", {"rows": aliases})}
        result.aliased = len(found)
        result.problems += [
            f"no IFC point {a['uid']} for registry id {a['props']['pointId']!r}"
            for a in aliases
            if a["uid"] not in found
        ]
    for label, rows in bindings.items():
        bound = {r["point"] for r in await store.execute("sensors/bind", {"rows": rows}, label=label)}
        result.bound += len(bound)
        result.problems += [
            f"no {label.lower()} {r['target']} to bind point {r['point']!r} to" for r in rows if r["point"] not in bound
        ]
    return result


@dataclass(frozen=True)
class SourceMapping:
    """A name a field protocol gives a point (an OPC UA node id, a Sparkplug B metric path)."""

    source: str
    point: str  # the point's id or uid
    unit: str | None = None  # the unit the source sends, when it does not say


def read_mapping_file(path: Path) -> tuple[str | None, list[SourceMapping]]:
    """`endpoint:` (optional) and `mappings: {source name: point id}`, a value also `{point: id, unit: rpm}`."""
    if not path.is_file():
        raise RegistryError(f"{path}: no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("mappings"), dict):
        raise RegistryError(f"{path}: expected a mapping with 'mappings: {{source name: point id}}'")
    mappings = []
    for source, target in data["mappings"].items():
        point, unit = (target.get("point"), target.get("unit")) if isinstance(target, dict) else (target, None)
        if not point:
            raise RegistryError(f"{path}, mapping {source!r}: names no point")
        if unit is not None:
            parse_unit(str(unit), f"{path}, mapping {source!r}")
        mappings.append(SourceMapping(str(source), str(point), str(unit) if unit else None))
    endpoint = data.get("endpoint")
    return (str(endpoint) if endpoint else None), mappings


def write_mapping_file(path: Path, mappings: dict[str, str], endpoint: str | None = None) -> None:
    data: dict[str, Any] = {"endpoint": endpoint} if endpoint else {}
    data["mappings"] = mappings
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
