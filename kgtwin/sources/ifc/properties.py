"""Property sets, quantity sets (in SI units), materials and classifications of IFC objects,
gathered in one pass over the relationships rather than per element."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import ifcopenshell
import ifcopenshell.util.unit

# Measure types whose values are in the project's unit and get stored in SI, with the SI unit.
MEASURE_UNITS = {
    "IfcLengthMeasure": ("LENGTHUNIT", "m"),
    "IfcPositiveLengthMeasure": ("LENGTHUNIT", "m"),
    "IfcNonNegativeLengthMeasure": ("LENGTHUNIT", "m"),
    "IfcAreaMeasure": ("AREAUNIT", "m2"),
    "IfcVolumeMeasure": ("VOLUMEUNIT", "m3"),
    "IfcMassMeasure": ("MASSUNIT", "kg"),
}
QUANTITY_UNITS = {
    "IfcQuantityLength": ("LengthValue", "LENGTHUNIT", "m"),
    "IfcQuantityArea": ("AreaValue", "AREAUNIT", "m2"),
    "IfcQuantityVolume": ("VolumeValue", "VOLUMEUNIT", "m3"),
    "IfcQuantityWeight": ("WeightValue", "MASSUNIT", "kg"),
    "IfcQuantityCount": ("CountValue", None, None),
    "IfcQuantityTime": ("TimeValue", "TIMEUNIT", "s"),
}


class PropertyIndex:
    """Flattened `pset.<Set>.<Property>` values (and `unit.<Set>.<Property>`) by entity id."""

    def __init__(self, ifc: ifcopenshell.file) -> None:
        self.ifc = ifc
        self._scales: dict[str, float] = {}
        self.by_object: dict[int, dict[str, Any]] = defaultdict(dict)
        self.materials: dict[int, list[str]] = {}
        self.classifications: dict[int, list[str]] = defaultdict(list)
        for rel in ifc.by_type("IfcRelDefinesByProperties"):
            definitions = rel.RelatingPropertyDefinition
            if not isinstance(definitions, tuple):
                definitions = (definitions,)
            values: dict[str, Any] = {}
            for definition in definitions:
                values.update(self.flatten(definition))
            for obj in rel.RelatedObjects:
                self.by_object[obj.id()].update(values)
        for rel in ifc.by_type("IfcRelAssociatesMaterial"):
            names = material_names(rel.RelatingMaterial)
            for obj in rel.RelatedObjects:
                self.materials[obj.id()] = names
        for rel in ifc.by_type("IfcRelAssociatesClassification"):
            reference = classification_text(rel.RelatingClassification)
            if reference:
                for obj in rel.RelatedObjects:
                    self.classifications[obj.id()].append(reference)

    def scale(self, unit_type: str) -> float:
        if unit_type not in self._scales:
            self._scales[unit_type] = float(ifcopenshell.util.unit.calculate_unit_scale(self.ifc, unit_type))
        return self._scales[unit_type]

    def of_type(self, type_object: ifcopenshell.entity_instance) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for definition in getattr(type_object, "HasPropertySets", None) or ():
            values.update(self.flatten(definition))
        return values

    def flatten(self, definition: ifcopenshell.entity_instance) -> dict[str, Any]:
        name = definition.Name or definition.is_a()
        out: dict[str, Any] = {}
        if definition.is_a("IfcPropertySet"):
            for prop in definition.HasProperties or ():
                self._property(f"{name}.{prop.Name}", prop, out)
        elif definition.is_a("IfcElementQuantity"):
            for quantity in definition.Quantities or ():
                self._quantity(f"{name}.{quantity.Name}", quantity, out)
        return out

    def _property(self, key: str, prop: ifcopenshell.entity_instance, out: dict[str, Any]) -> None:
        kind = prop.is_a()
        if kind == "IfcPropertySingleValue":
            value = prop.NominalValue
            if value is None:
                return
            out[f"pset.{key}"], unit = self._measure(value)
            if unit:
                out[f"unit.{key}"] = unit
        elif kind == "IfcPropertyEnumeratedValue":
            out[f"pset.{key}"] = homogeneous([self._measure(v)[0] for v in prop.EnumerationValues or ()])
        elif kind == "IfcPropertyListValue":
            out[f"pset.{key}"] = homogeneous([self._measure(v)[0] for v in prop.ListValues or ()])
        elif kind == "IfcPropertyBoundedValue":
            for bound in ("LowerBoundValue", "UpperBoundValue", "SetPointValue"):
                value = getattr(prop, bound, None)
                if value is not None:
                    out[f"pset.{key}.{bound}"] = self._measure(value)[0]
        elif kind == "IfcComplexProperty":
            for part in prop.HasProperties or ():
                self._property(f"{key}.{part.Name}", part, out)

    def _quantity(self, key: str, quantity: ifcopenshell.entity_instance, out: dict[str, Any]) -> None:
        spec = QUANTITY_UNITS.get(quantity.is_a())
        if spec is None:
            return
        attribute, unit_type, si_unit = spec
        value = getattr(quantity, attribute, None)
        if value is None:
            return
        if unit_type:
            value = float(value) * self.scale(unit_type)
            out[f"unit.{key}"] = si_unit
        out[f"pset.{key}"] = value

    def _measure(self, value: ifcopenshell.entity_instance) -> tuple[Any, str | None]:
        raw = value.wrappedValue if hasattr(value, "wrappedValue") else value
        spec = MEASURE_UNITS.get(value.is_a()) if hasattr(value, "is_a") else None
        if spec and isinstance(raw, (int, float)):
            return float(raw) * self.scale(spec[0]), spec[1]
        return plain(raw), None


def plain(value: Any) -> Any:
    """A value both engines store: IFC logicals and entity references become text or null."""
    if value == "UNKNOWN":
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return homogeneous([plain(v) for v in value])
    if isinstance(value, ifcopenshell.entity_instance):
        return getattr(value, "Name", None) or value.is_a()
    return str(value)


def homogeneous(values: list[Any]) -> list[Any]:
    """Graph engines store lists of one type only; mixed lists become lists of text."""
    values = [v for v in values if v is not None]
    if len({type(v) for v in values}) > 1:
        return [str(v) for v in values]
    return values


def material_names(material: ifcopenshell.entity_instance | None) -> list[str]:
    if material is None:
        return []
    kind = material.is_a()
    if kind == "IfcMaterial":
        return [material.Name]
    if kind == "IfcMaterialLayerSetUsage":
        return material_names(material.ForLayerSet)
    if kind == "IfcMaterialLayerSet":
        return [n for layer in material.MaterialLayers or () for n in material_names(layer.Material)]
    if kind == "IfcMaterialProfileSetUsage":
        return material_names(material.ForProfileSet)
    if kind == "IfcMaterialProfileSet":
        return [n for p in material.MaterialProfiles or () for n in material_names(p.Material)]
    if kind == "IfcMaterialConstituentSet":
        return [n for c in material.MaterialConstituents or () for n in material_names(c.Material)]
    if kind == "IfcMaterialList":
        return [n for m in material.Materials or () for n in material_names(m)]
    if kind in ("IfcMaterialLayer", "IfcMaterialProfile", "IfcMaterialConstituent"):
        return material_names(material.Material)
    return []


def classification_text(reference: ifcopenshell.entity_instance) -> str | None:
    if not reference.is_a("IfcClassificationReference"):
        return getattr(reference, "Name", None)
    code = getattr(reference, "Identification", None) or getattr(reference, "ItemReference", None) or ""
    source = getattr(reference, "ReferencedSource", None)
    system = getattr(source, "Name", None) if source is not None else None
    text = " ".join(part for part in (code, reference.Name) if part)
    return f"{system}: {text}" if system else text or None
