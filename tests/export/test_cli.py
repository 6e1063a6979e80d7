"""The commands a user runs: kgtwin import rdf, export rdf|dtdl and validate, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import rdflib

from tests.conftest import SHARED_DATA, run_cli


def test_import_export_and_validate_a_brick_model_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"KGTWIN_PUBLIC_URL": "https://twin.example.org", "KGTWIN_RDF_BASE": "https://data.example.org/twin"}
    office = SHARED_DATA / "rdf" / "mediumOffice_brick.ttl"

    # a file with a problem: the violations grouped by shape, and exit code 1
    wrong = tmp_path / "wrong.ttl"
    wrong.write_text(
        "@prefix bot: <https://w3id.org/bot#> . @prefix brick: <https://brickschema.org/schema/Brick#> .\n"
        "<http://example.org/wall> a bot:Element ; bot:hasSpace <http://example.org/room> .\n"
        "<http://example.org/t> a brick:Temperature_Sensor ; brick:hasUnit <http://qudt.org/vocab/unit/DEGC> .\n"
    )
    checked = run_cli("validate", str(wrong), data_dir=data, env=env)
    assert checked.returncode == 1, checked.stderr
    assert "does not conform to Brick 1.5 and BOT" in checked.stdout
    assert "BOT: only a zone (site, building, storey, space, zone) has elements or contains zones" in checked.stdout
    assert "unit/DEGC" in checked.stdout  # a misspelt unit is not a QUDT unit

    imported = run_cli("import", "rdf", str(office), "--model", "office", data_dir=data, env=env)
    assert imported.returncode == 0, imported.stderr
    assert "written: 1 Building, 42 Equipment, 306 Point, 15 Zone" in imported.stdout
    assert "Electrical_Power_Sensor" in imported.stdout and "alias" in imported.stdout

    turtle = tmp_path / "office.ttl"
    exported = run_cli(
        "export", "rdf", "--model", "office", "--format", "ttl", "--out", str(turtle), data_dir=data, env=env
    )
    assert exported.returncode == 0, exported.stderr
    graph = rdflib.Graph().parse(turtle)
    assert len(graph) > 2000
    stored_at = {
        str(o) for o in graph.objects(None, rdflib.URIRef("https://brickschema.org/schema/Brick/ref#storedAt"))
    }
    assert len(stored_at) == 306 and all(
        url.startswith("https://twin.example.org/timeseries/office%3A") for url in stored_at
    )
    assert all(
        str(s).startswith("https://data.example.org/twin/office/") for s in graph.subjects(rdflib.RDF.type, None)
    )

    streamed = run_cli("export", "rdf", "--model", "office", "-f", "nt", data_dir=data, env=env)
    assert streamed.returncode == 0 and len(rdflib.Graph().parse(data=streamed.stdout, format="nt")) == len(graph)

    # imported, the renamed class is mapped: the model now conforms
    valid = run_cli("validate", "--model", "office", data_dir=data, env=env)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "conforms to Brick 1.5 and BOT: 0 violations" in valid.stdout

    dtdl = run_cli("export", "dtdl", "--model", "office", "--version", "2", data_dir=data, env=env)
    assert dtdl.returncode == 0, dtdl.stderr
    ids = {doc["@id"] for doc in json.loads(dtdl.stdout)}
    assert "dtmi:dev:kgtwin:office:brick:Electric_Power_Sensor;2" in ids

    missing = run_cli("export", "rdf", "--model", "nowhere", data_dir=data, env=env)
    assert missing.returncode == 2 and "no model 'nowhere'" in missing.stderr and "Traceback" not in missing.stderr
    broken = tmp_path / "broken.ttl"
    broken.write_text("this is { not turtle")
    bad = run_cli("import", "rdf", str(broken), data_dir=data, env=env)
    assert bad.returncode == 2 and "not valid turtle" in bad.stderr and "Traceback" not in bad.stderr
    neither = run_cli("validate", data_dir=data, env=env)
    assert neither.returncode == 2 and "give an RDF file or --model" in neither.stderr
