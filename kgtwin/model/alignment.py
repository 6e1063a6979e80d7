"""Reads ontology/alignment.yaml: the one mapping between graph labels, IFC classes and BOT/Brick terms."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from kgtwin.errors import ConfigError

ALIGNMENT_FILE = Path(
    os.environ.get("KGTWIN_ONTOLOGY", Path(__file__).resolve().parents[2] / "ontology" / "alignment.yaml")
)


@dataclass(frozen=True)
class ControlMapping:
    ifc_class: str
    role: str  # "Point" or "Equipment"
    type_class: str
    default: str
    predefined: dict[str, str]


@dataclass(frozen=True)
class Alignment:
    namespaces: dict[str, str]
    labels: dict[str, dict[str, Any]]
    spatial: dict[str, str]
    relationships: dict[str, dict[str, str]]
    controls: dict[str, ControlMapping]
    name_hints: dict[str, str]
    units: dict[str, str]
    # RDF import and export
    qudt_units: dict[str, str] = field(default_factory=dict)  # QUDT unit local name -> unit as kgtwin stores it
    brick_aliases: dict[str, str] = field(default_factory=dict)  # older Brick class name -> Brick 1.4 class
    locations: dict[str, str] = field(default_factory=dict)  # rec: class -> graph label
    location_parts: dict[tuple[str, str], str] = field(default_factory=dict)  # (whole, part) labels -> type
    element_points: dict[str, str] = field(default_factory=dict)  # predicates of points of other elements

    def expand(self, curie: str) -> str:
        prefix, _, local = curie.partition(":")
        return self.namespaces[prefix] + local

    def brick_class_of(self, control: ControlMapping, predefined: str | None, *names: str | None) -> str:
        """The Brick class of a sensor or control, from its predefined type, else its names."""
        if predefined and predefined in control.predefined:
            return control.predefined[predefined]
        text = " ".join(n for n in names if n).lower()
        for hint, brick_class in self.name_hints.items():
            if hint in text:
                return brick_class
        return control.default


@cache
def alignment(path: Path = ALIGNMENT_FILE) -> Alignment:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"the ontology alignment {path} is missing; set KGTWIN_ONTOLOGY to it") from None
    controls = {
        name: ControlMapping(
            ifc_class=name,
            role=spec["role"],
            type_class=spec["type_class"],
            default=spec["default"],
            predefined=dict(spec.get("predefined") or {}),
        )
        for name, spec in data["controls"].items()
    }
    return Alignment(
        namespaces=data["namespaces"],
        labels=data["labels"],
        spatial=data["spatial"],
        relationships=data["relationships"],
        controls=controls,
        name_hints=data["name_hints"],
        units=data["units"],
        qudt_units=dict(data.get("qudt_units") or {}),
        brick_aliases=dict(data.get("brick_aliases") or {}),
        locations=dict(data.get("locations") or {}),
        element_points=dict(data.get("element_points") or {}),
        location_parts={
            tuple(pair.split(">")): rel_type  # type: ignore[misc]
            for pair, rel_type in (data.get("location_parts") or {}).items()
        },
    )
