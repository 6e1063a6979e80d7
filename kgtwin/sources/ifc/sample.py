"""Writes a synthetic IFC4 building of any size: the demo's, the tests' and the benchmarks' model.

Storeys of rooms laid out on a grid, each room with walls, a door and a window in openings,
columns and a slab per storey, property and quantity sets, sensors in every room (temperature,
humidity, CO2, occupancy) and concrete temperature sensors on the slabs, a thermostat and a
fire-compartment zone per storey, Uniclass references on the walls, and a work schedule whose
sequenced tasks construct the elements storey by storey.
GlobalIds come from the seed, so the same arguments give the same ids and a regenerated file
reloads in place.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

import ifcopenshell
import ifcopenshell.guid

ROOM_SENSORS = ("TEMPERATURESENSOR", "HUMIDITYSENSOR", "CO2SENSOR", "MOVEMENTSENSOR")
ROOM_WIDTH, ROOM_DEPTH, STOREY_HEIGHT = 5.0, 4.0, 3.2


@dataclass(frozen=True)
class SampleSpec:
    storeys: int = 3
    spaces_per_storey: int = 6
    seed: int = 1
    start: dt.date = dt.date(2026, 3, 2)  # a Monday
    name: str = "kgtwin sample building"


@dataclass
class SampleStats:
    storeys: int = 0
    spaces: int = 0
    elements: int = 0
    sensors: int = 0
    tasks: int = 0


class _Writer:
    def __init__(self, spec: SampleSpec) -> None:
        self.spec = spec
        self.random = random.Random(spec.seed)
        self.f = ifcopenshell.file(schema="IFC4")
        self.stats = SampleStats()

    def guid(self) -> str:
        return ifcopenshell.guid.compress(uuid.UUID(int=self.random.getrandbits(128)).hex)

    def create(self, ifc_class: str, **attributes: object) -> ifcopenshell.entity_instance:
        return self.f.create_entity(ifc_class, GlobalId=self.guid(), **attributes)

    def placement(self, x: float, y: float, z: float, relative_to: object = None) -> ifcopenshell.entity_instance:
        point = self.f.createIfcCartesianPoint((float(x), float(y), float(z)))
        return self.f.createIfcLocalPlacement(relative_to, self.f.createIfcAxis2Placement3D(point, None, None))

    def box(self, width: float, depth: float, height: float) -> ifcopenshell.entity_instance:
        """A body shape: a rectangle of width x depth from the placement's origin, extruded up."""
        f = self.f
        centre = f.createIfcAxis2Placement2D(f.createIfcCartesianPoint((width / 2, depth / 2)), None)
        profile = f.createIfcRectangleProfileDef("AREA", None, centre, width, depth)
        origin = f.createIfcAxis2Placement3D(f.createIfcCartesianPoint((0.0, 0.0, 0.0)), None, None)
        solid = f.createIfcExtrudedAreaSolid(profile, origin, f.createIfcDirection((0.0, 0.0, 1.0)), height)
        body = f.createIfcShapeRepresentation(self.body, "Body", "SweptSolid", [solid])
        return f.createIfcProductDefinitionShape(None, None, [body])

    def aggregate(self, parent: object, children: list[object]) -> None:
        if children:
            self.create("IfcRelAggregates", RelatingObject=parent, RelatedObjects=children)

    def pset(self, name: str, objects: list[object], values: dict[str, object]) -> None:
        props = []
        for key, value in values.items():
            if isinstance(value, bool):
                nominal = self.f.createIfcBoolean(value)
            elif isinstance(value, float):
                nominal = self.f.create_entity("IfcReal", value)
            else:
                nominal = self.f.createIfcLabel(str(value))
            props.append(self.f.createIfcPropertySingleValue(key, None, nominal, None))
        definition = self.create("IfcPropertySet", Name=name, HasProperties=props)
        self.create("IfcRelDefinesByProperties", RelatedObjects=objects, RelatingPropertyDefinition=definition)

    def quantities(self, name: str, obj: object, **values: float) -> None:
        kinds = {
            "Length": "IfcQuantityLength",
            "Height": "IfcQuantityLength",
            "Width": "IfcQuantityLength",
            "NetFloorArea": "IfcQuantityArea",
            "NetSideArea": "IfcQuantityArea",
            "NetArea": "IfcQuantityArea",
            "NetVolume": "IfcQuantityVolume",
        }
        attribute = {
            "IfcQuantityLength": "LengthValue",
            "IfcQuantityArea": "AreaValue",
            "IfcQuantityVolume": "VolumeValue",
        }
        items = [
            self.f.create_entity(kinds[key], Name=key, **{attribute[kinds[key]]: float(value)})
            for key, value in values.items()
        ]
        quantity = self.create("IfcElementQuantity", Name=name, Quantities=items)
        self.create("IfcRelDefinesByProperties", RelatedObjects=[obj], RelatingPropertyDefinition=quantity)

    def write(self, path: Path) -> SampleStats:
        f, spec = self.f, self.spec
        project = self.create("IfcProject", Name=spec.name, Phase="construction")
        length = f.createIfcSIUnit(None, "LENGTHUNIT", None, "METRE")
        area = f.createIfcSIUnit(None, "AREAUNIT", None, "SQUARE_METRE")
        volume = f.createIfcSIUnit(None, "VOLUMEUNIT", None, "CUBIC_METRE")
        project.UnitsInContext = f.createIfcUnitAssignment([length, area, volume])
        world = f.createIfcAxis2Placement3D(f.createIfcCartesianPoint((0.0, 0.0, 0.0)), None, None)
        context = f.createIfcGeometricRepresentationContext(None, "Model", 3, 1e-5, world, None)
        project.RepresentationContexts = [context]
        self.body = f.createIfcGeometricRepresentationSubContext(
            "Body", "Model", None, None, None, None, context, None, "MODEL_VIEW", None
        )
        site = self.create("IfcSite", Name="Site", ObjectPlacement=self.placement(0, 0, 0))
        building = self.create("IfcBuilding", Name="Building A", ObjectPlacement=self.placement(0, 0, 0))
        self.aggregate(project, [site])
        self.aggregate(site, [building])
        wall_type = self.create("IfcWallType", Name="Concrete wall 200", PredefinedType="SOLIDWALL")
        door_type = self.create(
            "IfcDoorType", Name="Single door 900", PredefinedType="DOOR", OperationType="SINGLE_SWING_LEFT"
        )
        concrete = f.createIfcMaterial("Concrete C30/37", None, "Concrete")
        uniclass = f.createIfcClassification(None, "2015", None, "Uniclass", None, None, None)
        wall_class = f.createIfcClassificationReference(None, "EF_25_10", "Walls", uniclass, None, None)
        typed: dict[object, list[object]] = {wall_type: [], door_type: []}
        storeys, schedule_groups = [], []
        columns_per_row = max(1, round(spec.spaces_per_storey**0.5))
        for level in range(spec.storeys):
            storey = self.create(
                "IfcBuildingStorey",
                Name=f"Level {level}",
                Elevation=level * STOREY_HEIGHT,
                ObjectPlacement=self.placement(0, 0, level * STOREY_HEIGHT, building.ObjectPlacement),
            )
            storeys.append(storey)
            self.stats.storeys += 1
            contained: list[object] = []
            slab = self.create("IfcSlab", Name=f"Slab L{level}", PredefinedType="FLOOR")
            rows = -(-spec.spaces_per_storey // columns_per_row)
            self.quantities(
                "Qto_SlabBaseQuantities",
                slab,
                NetArea=columns_per_row * ROOM_WIDTH * rows * ROOM_DEPTH,
                NetVolume=columns_per_row * ROOM_WIDTH * rows * ROOM_DEPTH * 0.25,
            )
            self.pset("Pset_SlabCommon", [slab], {"IsExternal": False, "LoadBearing": True, "FireRating": "REI90"})
            contained.append(slab)
            walls, doors, windows, columns, sensors, spaces = [], [], [], [], [], []
            for corner in range(4):
                column = self.create("IfcColumn", Name=f"Column L{level}-{corner}", PredefinedType="COLUMN")
                columns.append(column)
            for index in range(spec.spaces_per_storey):
                x, y = (index % columns_per_row) * ROOM_WIDTH, (index // columns_per_row) * ROOM_DEPTH
                space = self.create(
                    "IfcSpace",
                    Name=f"{level}{index + 1:02d}",
                    LongName=f"Room {level}.{index + 1}",
                    PredefinedType="INTERNAL",
                    CompositionType="ELEMENT",
                    ObjectPlacement=self.placement(x, y, 0, storey.ObjectPlacement),
                    Representation=self.box(ROOM_WIDTH, ROOM_DEPTH, STOREY_HEIGHT - 0.25),
                )
                spaces.append(space)
                self.quantities(
                    "Qto_SpaceBaseQuantities", space, NetFloorArea=ROOM_WIDTH * ROOM_DEPTH, Height=STOREY_HEIGHT - 0.25
                )
                self.pset("Pset_SpaceCommon", [space], {"IsExternal": False, "Reference": f"R{level}{index:02d}"})
                for side in ("south", "west"):
                    wall = self.create("IfcWall", Name=f"Wall {level}.{index + 1} {side}", PredefinedType="SOLIDWALL")
                    walls.append(wall)
                    typed[wall_type].append(wall)
                    external = (side == "south" and y == 0) or (side == "west" and x == 0)
                    self.pset(
                        "Pset_WallCommon",
                        [wall],
                        {
                            "IsExternal": external,
                            "LoadBearing": external,
                            "FireRating": "REI60" if external else "EI30",
                        },
                    )
                    span = ROOM_WIDTH if side == "south" else ROOM_DEPTH
                    self.quantities(
                        "Qto_WallBaseQuantities",
                        wall,
                        Length=span,
                        Height=STOREY_HEIGHT,
                        NetSideArea=span * STOREY_HEIGHT,
                        NetVolume=span * STOREY_HEIGHT * 0.2,
                    )
                    self.create(
                        "IfcRelSpaceBoundary",
                        RelatingSpace=space,
                        RelatedBuildingElement=wall,
                        PhysicalOrVirtualBoundary="PHYSICAL",
                        InternalOrExternalBoundary="EXTERNAL" if external else "INTERNAL",
                    )
                    filler = (
                        self.create(
                            "IfcWindow",
                            Name=f"Window {level}.{index + 1}",
                            PredefinedType="WINDOW",
                            OverallHeight=1.5,
                            OverallWidth=1.2,
                        )
                        if side == "south"
                        else self.create(
                            "IfcDoor",
                            Name=f"Door {level}.{index + 1}",
                            PredefinedType="DOOR",
                            OverallHeight=2.1,
                            OverallWidth=0.9,
                        )
                    )
                    (windows if side == "south" else doors).append(filler)
                    if side == "west":
                        typed[door_type].append(filler)
                    opening = self.create("IfcOpeningElement", Name=f"Opening {filler.Name}", PredefinedType="OPENING")
                    self.create("IfcRelVoidsElement", RelatingBuildingElement=wall, RelatedOpeningElement=opening)
                    self.create("IfcRelFillsElement", RelatingOpeningElement=opening, RelatedBuildingElement=filler)
                room_sensors = [
                    self.create(
                        "IfcSensor", Name=f"{kind.replace('SENSOR', '').title()} {space.Name}", PredefinedType=kind
                    )
                    for kind in ROOM_SENSORS
                ]
                sensors += room_sensors
                self.create("IfcRelContainedInSpatialStructure", RelatingStructure=space, RelatedElements=room_sensors)
            slab_sensors = [
                self.create(
                    "IfcSensor",
                    Name=f"Concrete temperature L{level}-{i}",
                    PredefinedType="TEMPERATURESENSOR",
                    ObjectType="concrete maturity",
                )
                for i in range(2)
            ]
            self.create("IfcRelAssignsToProduct", RelatingProduct=slab, RelatedObjects=slab_sensors)
            thermostat = self.create("IfcController", Name=f"Thermostat L{level}", PredefinedType="TWOPOSITION")
            contained += walls + doors + windows + columns + slab_sensors + [thermostat]
            sensors += slab_sensors
            self.stats.sensors += len(sensors)
            self.stats.spaces += len(spaces)
            self.stats.elements += len(contained) + len(sensors) - len(slab_sensors) + 2 * len(doors)  # + openings
            self.aggregate(storey, spaces)
            zone = self.create("IfcZone", Name=f"Fire compartment L{level}", ObjectType="FireCompartment")
            self.create("IfcRelAssignsToGroup", RelatedObjects=spaces, RelatingGroup=zone)
            self.create("IfcRelContainedInSpatialStructure", RelatingStructure=storey, RelatedElements=contained)
            self.create("IfcRelAssociatesMaterial", RelatedObjects=[slab, *walls, *columns], RelatingMaterial=concrete)
            schedule_groups.append((level, slab, columns, walls, doors + windows, [*sensors, thermostat]))
        self.aggregate(building, storeys)
        for element_type, objects in typed.items():
            if objects:
                self.create("IfcRelDefinesByType", RelatedObjects=objects, RelatingType=element_type)
        if typed[wall_type]:
            self.create(
                "IfcRelAssociatesClassification", RelatedObjects=typed[wall_type], RelatingClassification=wall_class
            )
        self._schedule(project, schedule_groups)
        f.write(str(path))
        return self.stats

    def _schedule(self, project: object, groups: list[tuple]) -> None:  # type: ignore[type-arg]
        f, spec = self.f, self.spec
        start = dt.datetime.combine(spec.start, dt.time(8)).isoformat()
        schedule = self.create(
            "IfcWorkSchedule", Name="Construction", PredefinedType="PLANNED", CreationDate=start, StartTime=start
        )
        self.create("IfcRelDeclares", RelatingContext=project, RelatedDefinitions=[schedule])
        period = f.createIfcTimePeriod("08:00:00", "16:00:00")
        week = f.createIfcRecurrencePattern("WEEKLY", None, [1, 2, 3, 4, 5], None, None, None, None, [period])
        calendar = self.create(
            "IfcWorkCalendar",
            Name="Site calendar",
            PredefinedType="FIRSTSHIFT",
            WorkingTimes=[f.createIfcWorkTime("Standard", None, None, week, None, None)],
        )

        def task(name: str, hours: float | None, **time: object) -> ifcopenshell.entity_instance:
            task_time = f.createIfcTaskTime(
                DurationType="WORKTIME", ScheduleDuration=f"PT{hours:g}H" if hours else None, **time
            )
            self.stats.tasks += 1
            return self.create(
                "IfcTask",
                Name=name,
                Identification=f"T{self.stats.tasks:04d}",
                IsMilestone=False,
                PredefinedType="CONSTRUCTION",
                TaskTime=task_time,
            )

        root = task(spec.name, None, ScheduleStart=start)
        self.create("IfcRelAssignsToControl", RelatingControl=schedule, RelatedObjects=[root])
        self.create("IfcRelAssignsToControl", RelatingControl=calendar, RelatedObjects=[root])
        storey_tasks, previous_last = [], None
        for level, slab, columns, walls, openings_fill, sensors in groups:
            phases = [
                (f"Columns L{level}", 8.0 * max(1, len(columns) // 4), columns),
                (f"Slab L{level}", 16.0, [slab]),
                (f"Walls L{level}", 8.0 * max(1, len(walls) // 6), walls),
                (f"Doors and windows L{level}", 8.0 * max(1, len(openings_fill) // 10), openings_fill),
                (f"Sensors L{level}", 8.0, sensors),
            ]
            summary = task(f"Level {level}", None)
            children = []
            for name, hours, products in phases:
                child = task(name, hours)
                children.append(child)
                if products:
                    self.create("IfcRelAssignsToProcess", RelatingProcess=child, RelatedObjects=products)
                predecessor = children[-2] if len(children) > 1 else previous_last
                if predecessor is not None:
                    self.create(
                        "IfcRelSequence", RelatingProcess=predecessor, RelatedProcess=child, SequenceType="FINISH_START"
                    )
            previous_last = children[2]  # the next storey's columns follow this storey's walls
            self.create("IfcRelNests", RelatingObject=summary, RelatedObjects=children)
            storey_tasks.append(summary)
        self.create("IfcRelNests", RelatingObject=root, RelatedObjects=storey_tasks)


def write_sample(path: Path, spec: SampleSpec | None = None) -> SampleStats:
    """Write a synthetic building to `path` and say how big it is."""
    return _Writer(spec or SampleSpec()).write(Path(path))
