"""A model of the graph as RDF: BOT spaces and elements, Brick points and equipment, QUDT units,
links to each point's time series in the API; N-Triples streamed page by page, Turtle and JSON-LD
through an rdflib graph."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import quote

import rdflib
from rdflib import RDF, RDFS, XSD, Literal, URIRef
from rdflib.plugins.serializers.turtle import TurtleSerializer

from kgtwin.config import Settings
from kgtwin.errors import KgtwinError
from kgtwin.sources.rdf import HAS_POINTS, NOT_LITERALS, QUALIFIED, Triple, Vocabulary, vocabulary_for
from kgtwin.store import GraphStore, Row

PAGE = 2000
# The labels a model's nodes are read by, each node once: a sensor that is an IFC element is
# read as an Element, so the Point and Equipment pages skip elements.
EXPORT_LABELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Project", ()),
    ("Site", ()),
    ("Building", ()),
    ("Storey", ()),
    ("Space", ()),
    ("Zone", ()),
    ("Element", ()),
    ("ElementType", ()),
    ("WorkSchedule", ()),
    ("Activity", ()),
    ("Point", ("Element",)),
    ("Equipment", ("Element", "Point")),
)
_CLASS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class RdfFormat:
    name: str  # as the CLI names it
    media_type: str
    rdflib_name: str
    suffix: str


FORMATS = {
    "nt": RdfFormat("nt", "application/n-triples", "nt", ".nt"),
    "ttl": RdfFormat("ttl", "text/turtle", "turtle", ".ttl"),
    "jsonld": RdfFormat("jsonld", "application/ld+json", "json-ld", ".jsonld"),
}
# What Accept headers name, and the format they get; N-Triples is the default (it streams).
_MEDIA_TYPES = {
    "application/n-triples": "nt",
    "text/plain": "nt",
    "text/turtle": "ttl",
    "application/x-turtle": "ttl",
    "application/ld+json": "jsonld",
    "application/json": "jsonld",
}


class UnknownModel(KgtwinError):
    exit_code = 2


class NotAcceptable(KgtwinError):
    """No RDF format kgtwin writes is acceptable to the client (HTTP 406)."""

    exit_code = 2


def negotiate(accept: str | None) -> RdfFormat:
    """The format an HTTP Accept header asks for (q-values honoured; none or */* gives N-Triples)."""
    if not accept or not accept.strip():
        return FORMATS["nt"]
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if quality <= 0:
            continue
        if media in ("*/*", "application/*"):
            ranked.append((quality, order, "nt"))
        elif media == "text/*":
            ranked.append((quality, order, "ttl"))
        elif media in _MEDIA_TYPES:
            ranked.append((quality, order, _MEDIA_TYPES[media]))
    if not ranked:
        raise NotAcceptable(
            f"none of {accept!r} is an RDF format kgtwin writes: "
            "text/turtle, application/n-triples or application/ld+json"
        )
    best = max(ranked, key=lambda item: (item[0], -item[1]))
    return FORMATS[best[2]]


class TwinTriples:
    """The triples of one model's nodes, as the export pages through them."""

    def __init__(self, vocab: Vocabulary, model: str, file: str | None, projects: list[str]) -> None:
        self.vocab = vocab
        self.model = model
        self.file = file
        # Brick's ref:IFCReference names its IFC project; with several, elements name the first
        self.project = vocab.node_iri(model, sorted(projects)[0]) if projects else None

    def iri(self, uid: str) -> URIRef:
        return self.vocab.node_iri(self.model, uid)

    def classes(self, labels: Iterable[str], props: dict[str, Any]) -> list[URIRef]:
        v, found = self.vocab, []
        for label in labels:
            if label in v.label_class and label not in ("Point", "Equipment"):
                found.append(v.label_class[label])
                if label in v.label_rec_class:
                    rec_class = props.get("recClass")
                    named = rec_class and _CLASS_NAME.match(rec_class)
                    found.append(v.rec[rec_class] if named else v.label_rec_class[label])
        ifc_class = props.get("ifcClass")
        if ifc_class and _CLASS_NAME.match(ifc_class):
            found.append(v.ifc[ifc_class])
        brick_class = props.get("brickClass")
        if brick_class and _CLASS_NAME.match(brick_class):
            found.append(v.brick[brick_class])
        else:
            found += [v.label_class[label] for label in labels if label in ("Point", "Equipment")]
        return found

    def node(self, row: Row) -> list[Triple]:
        v = self.vocab
        uid, labels, props = row["uid"], row["labels"], row["props"]
        subject = self.iri(uid)
        out: list[Triple] = [(subject, RDF.type, cls) for cls in self.classes(labels, props)]
        if props.get("name") is not None:
            out.append((subject, RDFS.label, Literal(str(props["name"]))))
        if props.get("description") is not None:
            out.append((subject, RDFS.comment, Literal(str(props["description"]))))
        out += self._identity(subject, labels, props)
        if "Point" in labels:
            out += self._point(subject, uid, props)
        elif props.get("unit") is not None:
            out.append((subject, v.property_predicate("unit"), Literal(str(props["unit"]))))
        for key, value in props.items():
            if key in NOT_LITERALS or value is None:
                continue
            predicate = v.property_predicate(key)
            if key.startswith("unit.") and v.qudt(str(value)) is not None:
                out.append((subject, predicate, v.qudt(str(value))))  # type: ignore[arg-type]
                continue
            for item in value if isinstance(value, list) else [value]:
                literal = v.literal(key, item)
                if literal is not None:
                    out.append((subject, predicate, literal))
        hosts_points = not HAS_POINTS.intersection(labels)
        for link in row["links"]:
            out += self._link(subject, link, hosts_points)
        return list(dict.fromkeys(out))  # a list value may repeat an item, two types may share a predicate

    def _identity(self, subject: URIRef, labels: list[str], props: dict[str, Any]) -> list[Triple]:
        """An IFC-born node names its GlobalId the Brick way: a ref:IFCReference to its IFC project."""
        v, global_id = self.vocab, props.get("globalId")
        if global_id is None:
            return []
        if "Project" in labels:
            out: list[Triple] = [
                (subject, RDF.type, v.ref.ifcProject),
                (subject, v.ref.ifcProjectID, Literal(global_id)),
            ]
            if self.file:
                out.append((subject, v.ref.ifcFileLocation, Literal(self.file)))
            return out
        if self.project is None:
            return [(subject, v.property_predicate("globalId"), Literal(global_id))]
        reference = URIRef(f"{subject}#ifc")
        return [
            (subject, v.ref.hasExternalReference, reference),
            (reference, RDF.type, v.ref.IFCReference),
            (reference, v.ref.ifcGlobalID, Literal(global_id)),
            (reference, v.ref.hasIfcProjectReference, self.project),
        ]

    def _point(self, subject: URIRef, uid: str, props: dict[str, Any]) -> list[Triple]:
        """Unit as QUDT, and where the point's observations are: the API's time series of it."""
        v, out = self.vocab, []
        unit = props.get("unit")
        if unit is not None:
            qudt = v.qudt(str(unit))
            out.append(
                (subject, v.brick.hasUnit, qudt) if qudt else (subject, v.property_predicate("unit"), Literal(unit))
            )
        series = URIRef(f"{subject}#timeseries")
        out += [
            (subject, v.ref.hasExternalReference, series),
            (series, RDF.type, v.ref.TimeseriesReference),
            (series, v.ref.hasTimeseriesId, Literal(uid)),
            (series, v.ref.storedAt, Literal(v.timeseries_url(uid), datatype=XSD.anyURI)),
        ]
        return out

    def _link(self, subject: URIRef, link: dict[str, Any], hosts_points: bool) -> list[Triple]:
        v, rel_type = self.vocab, link["type"]
        target = self.iri(link["to"])
        predicate = v.hosts if rel_type == "HAS_POINT" and hosts_points else v.predicate[rel_type]
        out: list[Triple] = [(subject, predicate, target)]
        props = {k: link["props"].get(k) for k in QUALIFIED.get(rel_type, ()) if link["props"].get(k) is not None}
        if props:
            qualified = URIRef(f"{subject}#{rel_type}-{quote(link['to'], safe='')}")
            out += [
                (qualified, RDF.type, v.kgtwin.Link),
                (qualified, v.kgtwin.linkType, Literal(rel_type)),
                (qualified, v.kgtwin.linkFrom, subject),
                (qualified, v.kgtwin.linkTo, target),
            ]
            for key, value in props.items():
                literal = v.literal(key, value)
                if literal is not None:
                    out.append((qualified, v.property_predicate(key), literal))
        return out


async def twin_triples(store: GraphStore, model: str, settings: Settings) -> TwinTriples:
    """What writes a model's triples; UnknownModel when the graph does not hold the model."""
    found = await store.execute("export/model", {"model": model})
    if not found:
        raise UnknownModel(f"no model {model!r} in the graph; `kgtwin query run store/models` lists them")
    return TwinTriples(vocabulary_for(settings), model, found[0]["file"], found[0]["projects"])


async def model_triples(
    store: GraphStore, model: str, settings: Settings, writer: TwinTriples | None = None
) -> AsyncIterator[list[Triple]]:
    """The model's triples, one batch per page of nodes read from the graph (never all at once)."""
    writer = writer or await twin_triples(store, model, settings)
    types = list(writer.vocab.predicate)
    for label, skip in EXPORT_LABELS:
        after = ""
        while True:
            params = {"model": model, "after": after, "limit": PAGE, "skip": list(skip), "types": types}
            rows = await store.execute("export/nodes", params, label=label)
            if rows:
                yield [triple for row in rows for triple in writer.node(row)]
                after = rows[-1]["uid"]
            if len(rows) < PAGE:
                break


def _escape(text: str) -> str:
    if "\\" in text or '"' in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return text


def ntriples_term(term: Any) -> str:
    if isinstance(term, URIRef):
        return f"<{term}>"
    if isinstance(term, Literal):
        lexical = f'"{_escape(str(term))}"'
        if term.language:
            return f"{lexical}@{term.language}"
        if term.datatype is not None and term.datatype != XSD.string:
            return f"{lexical}^^<{term.datatype}>"
        return lexical
    raise TypeError(f"no N-Triples form for {term!r}")  # the export writes no blank nodes


def ntriples(batch: Iterable[Triple]) -> str:
    return "".join(f"{ntriples_term(s)} {ntriples_term(p)} {ntriples_term(o)} .\n" for s, p, o in batch)


def bound_graph(settings: Settings, model: str | None = None) -> rdflib.Graph:
    """An empty graph with kgtwin's prefixes bound (and `twin:` for a model's instances)."""
    vocab = vocabulary_for(settings)
    graph = rdflib.Graph(bind_namespaces="none")
    for prefix, namespace in vocab.ns.items():
        graph.bind(prefix, namespace)
    graph.bind("rdf", RDF)
    graph.bind("rdfs", RDFS)
    graph.bind("xsd", XSD)
    if model is not None:
        graph.bind("twin", vocab.model_iri(model))
    return graph


async def model_graph(store: GraphStore, model: str, settings: Settings) -> rdflib.Graph:
    graph = bound_graph(settings, model)
    async for batch in model_triples(store, model, settings):
        for triple in batch:
            graph.add(triple)
    return graph


async def stream(store: GraphStore, model: str, fmt: RdfFormat, settings: Settings) -> AsyncIterator[bytes]:
    """The export as bytes chunks, for `GET /rdf`: N-Triples page by page, Turtle and JSON-LD whole.

    `chunks = await stream(...)`: the model is looked up first, so an unknown model raises
    UnknownModel before any byte is sent (an API answers 404), then the chunks follow.
    """
    writer = await twin_triples(store, model, settings)
    if fmt.name == "nt":
        return (ntriples(batch).encode("utf-8") async for batch in model_triples(store, model, settings, writer))
    document = serialize(await model_graph(store, model, settings), fmt, settings)

    async def whole() -> AsyncIterator[bytes]:
        yield document

    return whole()


class ExactTurtleSerializer(TurtleSerializer):
    """rdflib's Turtle, with doubles written in full: rdflib's short form keeps 7 digits of them."""

    def label(self, node: rdflib.term.Node, position: int) -> str:
        if isinstance(node, Literal) and node.datatype == XSD.double:
            return node._literal_n3(use_plain=False, qname_callback=lambda dt: self.get_pname(dt, True))
        return super().label(node, position)


rdflib.plugin.register("kgtwin-turtle", rdflib.serializer.Serializer, __name__, "ExactTurtleSerializer")


def serialize(graph: rdflib.Graph, fmt: RdfFormat, settings: Settings) -> bytes:
    if fmt.name == "jsonld":
        context = {prefix: str(ns) for prefix, ns in vocabulary_for(settings).ns.items()}
        context.update(rdf=str(RDF), rdfs=str(RDFS), xsd=str(XSD))
        return graph.serialize(format="json-ld", context=context, auto_compact=True, encoding="utf-8")
    writer = "kgtwin-turtle" if fmt.name == "ttl" else fmt.rdflib_name
    return graph.serialize(format=writer, encoding="utf-8")


@dataclass
class ExportSummary:
    model: str
    format: str
    triples: int = 0
    bytes: int = 0


async def export_rdf(store: GraphStore, model: str, fmt: RdfFormat, out: BinaryIO, settings: Settings) -> ExportSummary:
    """Write a model's RDF to a binary file; N-Triples never holds more than a page in memory."""
    summary = ExportSummary(model, fmt.name)
    if fmt.name == "nt":
        async for batch in model_triples(store, model, settings):
            data = ntriples(batch).encode("utf-8")
            out.write(data)
            summary.triples += len(batch)
            summary.bytes += len(data)
        return summary
    graph = await model_graph(store, model, settings)
    data = serialize(graph, fmt, settings)
    out.write(data)
    summary.triples, summary.bytes = len(graph), len(data)
    return summary
