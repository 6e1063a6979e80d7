"""Reads an IFC file (IFC2X3, IFC4, IFC4X3) into a ModelGraph: spatial tree, every element, types,
properties, part hierarchies, voids and fills, space boundaries, sensors and controls, 4D data."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.util.element

from kgtwin.errors import KgtwinError
from kgtwin.model.alignment import Alignment, ControlMapping, alignment
from kgtwin.model.graph import ModelGraph
from kgtwin.sources.ifc.geometry import add_footprints
from kgtwin.sources.ifc.properties import PropertyIndex, plain
from kgtwin.sources.ifc.schedule import add_schedules

SUPPORTED_SCHEMAS = ("IFC2X3", "IFC4", "IFC4X3")
SPATIAL_LINK = {
    "Site": "HAS_SITE",
    "Building": "HAS_BUILDING",
    "Storey": "HAS_STOREY",
    "Space": "HAS_SPACE",
    "Zone": "CONTAINS_ZONE",
}
Progress = Callable[[str, int, int], None]


class IfcLoadError(KgtwinError):
    """The file cannot be read as an IFC model; nothing was written."""

    exit_code = 2


@dataclass
class ReadResult:
    graph: ModelGraph
    schema: str
    project_name: str | None
    sha256: str
    parse_seconds: float
    extract_seconds: float
    skipped: dict[str, int] = field(default_factory=dict)  # products that are not elements (annotations, grids)


def model_id_for(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-").lower() or "model"


def open_ifc(path: Path) -> ifcopenshell.file:
    """Open a file with a one-line error for every way it can fail to be an IFC model."""
    if not path.exists():
        raise IfcLoadError(f"{path}: no such file")
    if path.is_dir():
        raise IfcLoadError(f"{path}: is a folder, not an IFC file")
    with open(path, "rb") as f:
        head = f.read(4096)
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 4096))
        tail = f.read()
    if not head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"ISO-10303-21;"):
        raise IfcLoadError(f"{path}: not an IFC file (no ISO-10303-21 header); kgtwin reads IFC-SPF (.ifc) files")
    match = re.search(rb"FILE_SCHEMA\s*\(\s*\(\s*'([^']*)'", head)
    schema = match.group(1).decode(errors="replace").upper() if match else "?"
    if not any(schema == s or schema.startswith(s + "_") for s in SUPPORTED_SCHEMAS):
        raise IfcLoadError(f"{path}: schema {schema} is not supported; kgtwin reads {', '.join(SUPPORTED_SCHEMAS)}")
    if b"END-ISO-10303-21;" not in tail:
        raise IfcLoadError(f"{path}: the file is truncated (no END-ISO-10303-21 at its end); nothing was loaded")
    try:
        return ifcopenshell.open(str(path))
    except Exception as exc:  # ifcopenshell raises plain errors with the parser's message
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IfcLoadError(f"{path}: cannot be parsed as IFC ({message}); nothing was loaded") from None


def read_ifc(path: Path, model: str | None = None, progress: Progress | None = None) -> ReadResult:
    path = Path(path)
    began = time.perf_counter()
    ifc = open_ifc(path)
    parsed = time.perf_counter()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    builder = _Builder(ifc, ModelGraph(model or model_id_for(path)), alignment(), progress or (lambda *_: None))
    builder.build()
    projects = ifc.by_type("IfcProject")
    return ReadResult(
        graph=builder.graph,
        schema=ifc.schema,
        project_name=projects[0].Name if projects else None,
        sha256=digest,
        parse_seconds=parsed - began,
        extract_seconds=time.perf_counter() - parsed,
        skipped=builder.skipped,
    )


class _Builder:
    def __init__(self, ifc: ifcopenshell.file, graph: ModelGraph, align: Alignment, progress: Progress) -> None:
        self.ifc = ifc
        self.graph = graph
        self.align = align
        self.progress = progress
        self.skipped: dict[str, int] = {}
        self.points: set[str] = set()

    def uid(self, entity: ifcopenshell.entity_instance | None) -> str:
        # Edited files often keep relationships whose other end was deleted; an empty uid
        # names no node, so such a relationship is skipped instead of failing the load.
        return self.graph.uid(entity.GlobalId) if entity is not None else ""

    def build(self) -> None:
        self.properties = PropertyIndex(self.ifc)
        self._project()
        self._spatial()
        self._elements()
        self._types()
        self._structure()
        self._controls()
        self.graph.locate()
        add_footprints(self.graph, self.ifc, self.properties.scale("LENGTHUNIT"))
        add_schedules(self.graph, self.ifc)

    def _common(self, entity: ifcopenshell.entity_instance) -> dict[str, Any]:
        props: dict[str, Any] = {
            "globalId": entity.GlobalId,
            "name": entity.Name,
            "description": entity.Description,
            "ifcClass": entity.is_a(),
        }
        for attribute in ("LongName", "ObjectType", "Tag", "PredefinedType", "CompositionType"):
            value = getattr(entity, attribute, None)
            if value is not None:
                props[attribute[0].lower() + attribute[1:]] = plain(value)
        own = self.properties.by_object.get(entity.id(), {})
        props.update(own)
        materials = self.properties.materials.get(entity.id())
        if materials:
            props["materials"] = materials
        classification = self.properties.classifications.get(entity.id())
        if classification:
            props["classification"] = classification
        return props

    def _project(self) -> None:
        for project in self.ifc.by_type("IfcProject"):
            props = self._common(project)
            props["phase"] = project.Phase
            props["schema"] = self.ifc.schema
            self.graph.add_node("Project", self.uid(project), props, (project.is_a(),))

    def _spatial_label(self, entity: ifcopenshell.entity_instance) -> str | None:
        for ifc_class, label in self.align.spatial.items():
            if _is_a(entity, ifc_class):
                return label
        return None

    def _spatial(self) -> None:
        root = "IfcSpatialStructureElement" if self.ifc.schema == "IFC2X3" else "IfcSpatialElement"
        entities = self.ifc.by_type(root)
        for entity in entities:
            label = self._spatial_label(entity)
            if label is None:
                continue
            props = self._common(entity)
            if entity.is_a("IfcBuildingStorey") and entity.Elevation is not None:
                props["elevation"] = float(entity.Elevation) * self.properties.scale("LENGTHUNIT")
            self.graph.add_node(label, self.uid(entity), props, (entity.is_a(),))
        for zone in self.ifc.by_type("IfcZone"):
            self.graph.add_node("Zone", self.uid(zone), self._common(zone), (zone.is_a(),))

    def _elements(self) -> None:
        elements = self.ifc.by_type("IfcElement")
        total = len(elements)
        for done, element in enumerate(elements, 1):
            props = self._common(element)
            element_type = ifcopenshell.util.element.get_type(element)
            if element_type is not None:
                inherited = self.properties.of_type(element_type)
                props = {**inherited, **props}  # the occurrence's own values win over its type's
                if "predefinedType" not in props or props["predefinedType"] in ("NOTDEFINED", "USERDEFINED"):
                    type_predefined = getattr(element_type, "PredefinedType", None)
                    if type_predefined and type_predefined not in ("NOTDEFINED", "USERDEFINED"):
                        props["predefinedType"] = type_predefined
                if "materials" not in props and element_type.id() in self.properties.materials:
                    props["materials"] = self.properties.materials[element_type.id()]
            labels: tuple[str, ...] = (element.is_a(),)
            control = self._control_mapping(element, element_type)
            if control is not None:
                names = (
                    element.Name,
                    getattr(element, "ObjectType", None),
                    element_type.Name if element_type is not None else None,
                )
                brick = self.align.brick_class_of(control, props.get("predefinedType"), *names)
                labels += (control.role, brick)
                props["brickClass"] = brick
                if control.role == "Point":
                    self.points.add(self.uid(element))
            self.graph.add_node("Element", self.uid(element), props, labels)
            if done % 500 == 0 or done == total:
                self.progress("elements", done, total)
        for product in self.ifc.by_type("IfcProduct"):
            if not product.is_a("IfcElement") and self._spatial_label(product) is None:
                self.skipped[product.is_a()] = self.skipped.get(product.is_a(), 0) + 1

    def _control_mapping(
        self, element: ifcopenshell.entity_instance, element_type: ifcopenshell.entity_instance | None
    ) -> ControlMapping | None:
        for ifc_class, mapping in self.align.controls.items():
            if _is_a(element, ifc_class):
                return mapping
        if element.is_a("IfcDistributionControlElement") and element_type is not None:
            for mapping in self.align.controls.values():
                if element_type.is_a(mapping.type_class):
                    return mapping
        return None

    def _types(self) -> None:
        for rel in self.ifc.by_type("IfcRelDefinesByType"):
            element_type = rel.RelatingType
            props = self._common(element_type)
            props.update(self.properties.of_type(element_type))
            self.graph.add_node("ElementType", self.uid(element_type), props, (element_type.is_a(),))
            for obj in rel.RelatedObjects:
                if self.graph.add_rel("HAS_TYPE", self.uid(obj), self.uid(element_type)):
                    self.graph.props_of[self.uid(obj)]["elementType"] = self.uid(element_type)

    def _structure(self) -> None:
        g = self.graph
        for rel in self.ifc.by_type("IfcRelAggregates"):
            parent = self.uid(rel.RelatingObject)
            for child_entity in rel.RelatedObjects or ():
                child = self.uid(child_entity)
                child_label = g.label_of.get(child)
                if child_label in SPATIAL_LINK:
                    g.add_rel(SPATIAL_LINK[child_label], parent, child)
                elif child_label == "Element" and g.label_of.get(parent) == "Element":
                    g.add_rel("HAS_SUB_ELEMENT", parent, child, {"via": "aggregates"})
        for rel in self.ifc.by_type("IfcRelNests"):
            parent = self.uid(rel.RelatingObject)
            if g.label_of.get(parent) != "Element":
                continue
            for child_entity in rel.RelatedObjects:
                if g.label_of.get(self.uid(child_entity)) == "Element":
                    g.add_rel("HAS_SUB_ELEMENT", parent, self.uid(child_entity), {"via": "nests"})
        for rel in self.ifc.by_type("IfcRelContainedInSpatialStructure"):
            container = self.uid(rel.RelatingStructure)
            for element in rel.RelatedElements:
                g.add_rel("CONTAINS_ELEMENT", container, self.uid(element))
                if self.uid(element) in self.points:  # a sensor is a point of the space it is in
                    g.add_rel("HAS_POINT", container, self.uid(element), {"via": "containment"})
        for rel in self.ifc.by_type("IfcRelReferencedInSpatialStructure"):
            container = self.uid(rel.RelatingStructure)
            for element in rel.RelatedElements:
                g.add_rel("REFERENCES_ELEMENT", container, self.uid(element))
        for rel in self.ifc.by_type("IfcRelVoidsElement"):
            g.add_rel("VOIDS", self.uid(rel.RelatedOpeningElement), self.uid(rel.RelatingBuildingElement))
        for rel in self.ifc.by_type("IfcRelFillsElement"):
            g.add_rel("FILLS", self.uid(rel.RelatedBuildingElement), self.uid(rel.RelatingOpeningElement))
        for rel in self.ifc.by_type("IfcRelSpaceBoundary"):
            if rel.RelatingSpace is None or rel.RelatedBuildingElement is None:
                continue
            g.add_rel(
                "ADJACENT_ELEMENT",
                self.uid(rel.RelatingSpace),
                self.uid(rel.RelatedBuildingElement),
                {
                    "physicalOrVirtual": rel.PhysicalOrVirtualBoundary,
                    "internalOrExternal": rel.InternalOrExternalBoundary,
                },
            )
        for rel in self.ifc.by_type("IfcRelAssignsToGroup"):
            group = self.uid(rel.RelatingGroup)
            if g.label_of.get(group) == "Zone":
                for member in rel.RelatedObjects:
                    if g.label_of.get(self.uid(member)) in ("Space", "Zone"):
                        g.add_rel("CONTAINS_ZONE", group, self.uid(member))

    def _controls(self) -> None:
        """Points hang off what they are in or assigned to (brick:hasPoint / isPointOf)."""
        g = self.graph  # (points in a space or storey get HAS_POINT with containment, in _structure)
        for rel in self.ifc.by_type("IfcRelFlowControlElements"):
            for control in rel.RelatedControlElements:
                if self.uid(control) in self.points:
                    g.add_rel(
                        "HAS_POINT", self.uid(rel.RelatingFlowElement), self.uid(control), {"via": "flow control"}
                    )
        for rel in self.ifc.by_type("IfcRelAssignsToProduct"):
            product = self.uid(rel.RelatingProduct)
            for obj in rel.RelatedObjects:
                if getattr(obj, "GlobalId", None) and self.uid(obj) in self.points:
                    g.add_rel("HAS_POINT", product, self.uid(obj), {"via": "assignment"})


def _is_a(entity: ifcopenshell.entity_instance, ifc_class: str) -> bool:
    try:
        return bool(entity.is_a(ifc_class))
    except Exception:  # the class does not exist in this file's schema
        return False
