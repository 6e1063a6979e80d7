"""Indexes and uniqueness on the ids the graph model uses.

Every node kgtwin writes carries `uid`, unique per label across the whole graph, and `model`,
the id of the model it belongs to (several models share one graph). Element-like nodes also
carry their IFC `globalId`, unique within a model.
"""

from kgtwin.store.base import IndexSpec

# The labels a model file (IFC) produces; a reload compares and sweeps exactly these.
MODEL_LABELS = (
    "Project",
    "Site",
    "Building",
    "Storey",
    "Space",
    "Zone",
    "Element",
    "ElementType",
    "WorkSchedule",
    "Activity",
)
# Every label whose nodes carry a graph-wide unique uid.
KEYED_LABELS = ("Model", *MODEL_LABELS, "Point", "Equipment", "ObservationBucket", "Anomaly", "Event")

INDEXES: tuple[IndexSpec, ...] = (
    *(IndexSpec(label, "uid", unique=True) for label in KEYED_LABELS),
    *(IndexSpec(label, "model") for label in ("Element", "Space", "Storey", "Point", "Activity", "Anomaly", "Event")),
    *(IndexSpec(label, key) for label in ("Element", "Space", "Point") for key in ("building", "storey")),
    IndexSpec("Element", "globalId"),
    IndexSpec("Element", "ifcClass"),
    IndexSpec("Element", "status"),
    IndexSpec("Point", "brickClass"),
    IndexSpec("Point", "pointId", unique=True),
    IndexSpec("Anomaly", "state"),
    IndexSpec("Anomaly", "point"),
    IndexSpec("Event", "time"),
    IndexSpec("Event", "subject"),
)
