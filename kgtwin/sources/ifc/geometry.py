"""Where spaces and storeys lie on plan: axis-aligned footprints in world coordinates (metres), for plans.

A space's footprint is the bounding box of its body shape in world coordinates. A body that is
extruded profiles (rectangles, polylines: what most authoring tools write for spaces) is boxed
directly from the placement chain and the profile's points, which costs microseconds; any other
shape is built by ifcopenshell.geom (CGAL's simple kernel, OpenCascade where that fails), about a
millisecond a space. Where no shape can be built, the box comes from the space's placement and
its quantities: a rectangle from floor area and perimeter, or a square of the floor area, with its
corner at the placement's origin; a space with neither has none. A storey's footprint is the box
around its spaces'.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import ifcopenshell
import ifcopenshell.geom
import numpy as np

from kgtwin.model.graph import ModelGraph

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float, float, float]  # min x, min y, min z, max x, max y, max z
AREA_KEYS = ("NetFloorArea", "GrossFloorArea")
PERIMETER_KEYS = ("NetPerimeter", "GrossPerimeter")
KERNEL = "hybrid-cgal-simple-opencascade"  # 10x faster than OpenCascade alone on space solids, same boxes


def add_footprints(graph: ModelGraph, ifc: ifcopenshell.file, length_scale: float) -> None:
    """Set `footprint: [minx, miny, maxx, maxy]` and `elevation` (its lowest z) on every space
    of `graph` that has a position, and `footprint` on the storeys that hold such spaces."""
    spaces = [s for s in ifc.by_type("IfcSpace") if graph.uid(s.GlobalId) in graph.props_of]
    if not spaces:
        return
    placements = _Placements()
    boxes = {s.id(): box for s in spaces if (box := _extrusion_box(s, placements, length_scale)) is not None}
    boxes.update(_shape_boxes(ifc, [s for s in spaces if s.id() not in boxes]))
    by_storey: dict[str, list[Box]] = {}
    for space in spaces:
        props = graph.props_of[graph.uid(space.GlobalId)]
        box = boxes.get(space.id()) or _box_from_quantities(space, props, placements, length_scale)
        if box is None:
            continue
        props["footprint"] = [round(v, 3) for v in (box[0], box[1], box[3], box[4])]
        props["elevation"] = round(box[2], 3)
        if props.get("storey"):
            by_storey.setdefault(props["storey"], []).append(box)
    for storey, storey_boxes in by_storey.items():
        corners = np.array(storey_boxes)
        low, high = corners[:, :3].min(axis=0), corners[:, 3:].max(axis=0)
        graph.props_of[storey]["footprint"] = [round(float(v), 3) for v in (low[0], low[1], high[0], high[1])]


class _Placements:
    """World matrices of local placements, each computed once (a storey's is shared by its rooms)."""

    def __init__(self) -> None:
        self._known: dict[int, np.ndarray] = {}

    def world(self, placement: ifcopenshell.entity_instance) -> np.ndarray:
        known = self._known.get(placement.id())
        if known is None:
            if not placement.is_a("IfcLocalPlacement"):
                raise ValueError(f"{placement.is_a()} is not read here")
            parent = self.world(placement.PlacementRelTo) if placement.PlacementRelTo else np.eye(4)
            known = self._known[placement.id()] = parent @ axis_matrix(placement.RelativePlacement)
        return known


def axis_matrix(axes: ifcopenshell.entity_instance) -> np.ndarray:
    """The 4x4 matrix of an IfcAxis2Placement2D or 3D (ifcopenshell.util.placement's, without its per-call cost)."""
    origin = (*axes.Location.Coordinates, 0.0, 0.0)[:3]
    axis = getattr(axes, "Axis", None)
    z = np.array(axis.DirectionRatios if axis else (0.0, 0.0, 1.0), dtype=float)
    x = np.array((*axes.RefDirection.DirectionRatios, 0.0)[:3] if axes.RefDirection else (1.0, 0.0, 0.0), dtype=float)
    matrix = np.eye(4)
    matrix[:3, 3] = origin
    if axis is None and axes.RefDirection is None:
        return matrix
    z /= np.linalg.norm(z)
    x -= x.dot(z) * z
    x /= np.linalg.norm(x)
    matrix[:3, 0], matrix[:3, 1], matrix[:3, 2] = x, np.cross(z, x), z
    return matrix


def _extrusion_box(space: ifcopenshell.entity_instance, placements: _Placements, length_scale: float) -> Box | None:
    """The box of a body made only of extruded rectangles or polylines; None for any other shape."""
    body = _body(space)
    if body is None or space.ObjectPlacement is None:
        return None
    try:
        placement = placements.world(space.ObjectPlacement)
        corners = []
        for item in body.Items:
            outline = _outline(item.SweptArea) if item.is_a("IfcExtrudedAreaSolid") else None
            if outline is None:
                return None
            direction = np.asarray(item.ExtrudedDirection.DirectionRatios, dtype=float)
            lift = direction / np.linalg.norm(direction) * float(item.Depth)
            matrix = placement @ axis_matrix(item.Position) if item.Position else placement
            corners.append(np.vstack([outline, outline + lift]) @ matrix[:3, :3].T + matrix[:3, 3])
    except Exception:  # placements or profiles this shortcut does not read: the geometry kernel will
        return None
    if not corners:
        return None
    points = np.vstack(corners) * length_scale
    low, high = points.min(axis=0), points.max(axis=0)
    return (*map(float, low), *map(float, high))  # type: ignore[return-value]


def _body(space: ifcopenshell.entity_instance) -> ifcopenshell.entity_instance | None:
    for representation in space.Representation.Representations if space.Representation else ():
        if representation.RepresentationIdentifier == "Body" and representation.RepresentationType == "SweptSolid":
            return representation
    return None


def _outline(profile: ifcopenshell.entity_instance) -> np.ndarray | None:
    """A profile's points in the solid's coordinates, at z = 0."""
    if profile.is_a("IfcRectangleProfileDef") and not profile.is_a("IfcRectangleHollowProfileDef"):
        x, y = float(profile.XDim) / 2, float(profile.YDim) / 2
        flat = [(-x, -y), (x, -y), (x, y), (-x, y)]
    elif profile.is_a("IfcArbitraryClosedProfileDef"):
        curve = profile.OuterCurve
        if curve.is_a("IfcPolyline"):
            flat = [p.Coordinates[:2] for p in curve.Points]
        elif curve.is_a("IfcIndexedPolyCurve") and curve.Segments is None:
            flat = [c[:2] for c in curve.Points.CoordList]
        else:
            return None
    else:
        return None
    points = np.zeros((len(flat), 3))
    points[:, :2] = flat
    position = getattr(profile, "Position", None)
    if position is not None:
        matrix = axis_matrix(position)
        points = points @ matrix[:3, :3].T + matrix[:3, 3]
    return points


def _shape_boxes(ifc: ifcopenshell.file, spaces: list[ifcopenshell.entity_instance]) -> dict[int, Box]:
    """World-coordinate bounding boxes of the spaces' body shapes, by entity id."""
    with_shape = [s for s in spaces if s.Representation is not None]
    if not with_shape:
        return {}
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    settings.set("disable-opening-subtractions", True)  # a box needs no holes, and skipping them is faster
    boxes: dict[int, Box] = {}
    try:
        iterator = ifcopenshell.geom.iterator(
            settings, ifc, max(1, os.cpu_count() or 1), include=with_shape, geometry_library=KERNEL
        )
        if not iterator.initialize():
            return {}
        while True:
            shape = iterator.get()
            verts = np.asarray(shape.geometry.verts, dtype=float).reshape(-1, 3)
            if len(verts):
                low, high = verts.min(axis=0), verts.max(axis=0)
                boxes[shape.id] = (*map(float, low), *map(float, high))  # type: ignore[assignment]
            if not iterator.next():
                break
    except Exception as exc:  # the geometry kernel rejects some files whole; quantities still serve
        log.warning("space shapes could not be built (%s); footprints come from placements and quantities", exc)
    return boxes


def _box_from_quantities(
    space: ifcopenshell.entity_instance, props: dict[str, Any], placements: _Placements, length_scale: float
) -> Box | None:
    area = _quantity(props, AREA_KEYS)
    if space.ObjectPlacement is None or not area or area <= 0:
        return None
    try:
        matrix = placements.world(space.ObjectPlacement)
    except Exception:  # a grid or linear placement: no position this reads
        return None
    x, y, z = (float(v) * length_scale for v in matrix[:3, 3])
    width = depth = math.sqrt(area)
    perimeter = _quantity(props, PERIMETER_KEYS)
    if perimeter and (perimeter / 4) ** 2 >= area:  # sides a, b with a + b = p/2 and a * b = area
        half = perimeter / 4
        spread = math.sqrt(half * half - area)
        width, depth = half + spread, half - spread
    height = _quantity(props, ("Height",)) or 0.0
    return (x, y, z, x + width, y + depth, z + height)


def _quantity(props: dict[str, Any], names: tuple[str, ...]) -> float | None:
    for key, value in props.items():
        if key.startswith("pset.") and key.rsplit(".", 1)[-1] in names and isinstance(value, int | float):
            return float(value)
    return None
