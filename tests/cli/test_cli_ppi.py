"""`oup ppi`: listing, showing, validating, comparing and describing PPIs, with checker exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rdflib import Graph, URIRef
from typer.testing import CliRunner

import ppi_schemas.registry
from mims.cli.ppi import app

runner = CliRunner()
EXAMPLES = Path(ppi_schemas.__file__).parent / "ngsi-ld-entity" / "1.0.0" / "examples"


def test_list_shows_every_ppi() -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    for name in ("mim-description", "ngsi-ld-entity", "problem-details"):
        assert name in result.output
    assert "application/problem+json" in result.output


def test_show_gives_the_metadata_of_the_selected_version() -> None:
    result = runner.invoke(app, ["show", "ngsi-ld-entity@1"])
    assert result.exit_code == 0
    assert "ngsi-ld-entity@1.0.0" in result.output
    assert "EUPL-1.2 AND CC-BY-4.0" in result.output
    assert "application/ld+json" in result.output
    assert "5 valid, 14 invalid" in result.output


def test_show_unknown_ppi_exits_2_with_the_available_ones() -> None:
    result = runner.invoke(app, ["show", "ngsi-ld-entities"])
    assert result.exit_code == 2
    assert "Did you mean 'ngsi-ld-entity'?" in result.output


def test_validate_valid_file_exits_0() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLES / "valid" / "building.json"), "--ppi", "ngsi-ld-entity@1.0.0"])
    assert result.exit_code == 0
    assert result.output.startswith("valid:")


def test_validate_invalid_file_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    payload = {
        "type": "Building",
        "height": {"type": "Property", "unitCode": "MTR"},
        "owner": {"type": "Relationship", "object": "not a uri [really]"},
    }
    file = tmp_path / "entity.json"
    file.write_text(json.dumps(payload))
    result = runner.invoke(app, ["validate", str(file), "--ppi", "ngsi-ld-entity@1"])
    assert result.exit_code == 1
    assert "3 problem(s) against ngsi-ld-entity@1.0.0" in result.output
    assert "  /height/value: 'value' is a required property" in result.output
    assert "  /id: 'id' is a required property" in result.output
    assert "  /owner/object: 'not a uri [really]' is not a 'uri'" in result.output


def test_validate_reads_standard_input() -> None:
    result = runner.invoke(app, ["validate", "-", "--ppi", "problem-details"], input='{"title": "x", "status": 400}')
    assert result.exit_code == 1
    assert "  /type: 'type' is a required property" in result.output


@pytest.mark.parametrize(
    ("content", "ppi", "message"),
    [
        ("{not json", "problem-details@1", "is not JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
        (b"\xff\xfe", "problem-details@1", "cannot read"),
        ("{}", "problem-details@2", "PPI 'problem-details' has no version matching '2'; available: 1.0.0"),
        ("{}", "nope@1", "no PPI named 'nope'"),
    ],
)
def test_validate_cannot_answer_exits_2(tmp_path: Path, content: str | bytes, ppi: str, message: str) -> None:
    file = tmp_path / "payload.json"
    file.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = runner.invoke(app, ["validate", str(file), "--ppi", ppi])
    assert result.exit_code == 2
    assert message in result.output


def test_validate_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "absent.json"), "--ppi", "problem-details"])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def _write_versions(root: Path, schemas: dict[str, dict[str, Any]]) -> None:
    for version, schema in schemas.items():
        folder = root / "parking" / version
        folder.mkdir(parents=True)
        (folder / "ppi.json").write_text(
            json.dumps(
                {
                    "name": "parking",
                    "version": version,
                    "title": "Parking",
                    "description": "Spots available in a car park.",
                    "status": "draft",
                    "mediaType": "application/json",
                    "contextUrl": f"https://w3id.org/oup/ppi/parking/{version}/context.jsonld",
                    "schema": "schema.json",
                    "producers": ["context"],
                    "consumers": ["gateway"],
                    "license": "EUPL-1.2",
                    "keywords": ["parking"],
                    "changelog": "../CHANGELOG.md",
                }
            )
        )
        schema = {"$id": f"https://w3id.org/oup/ppi/parking/{version}/schema.json", **schema}
        (folder / "schema.json").write_text(json.dumps(schema))
        (folder / "context.jsonld").write_text(json.dumps({"@context": {"spots": "https://schema.org/value"}}))
    (root / "parking" / "CHANGELOG.md").write_text("# parking\n")


@pytest.fixture
def parking_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI looks PPIs up in a catalogue holding three versions of a small contract."""
    spots = {"type": "object", "properties": {"spots": {"type": "integer"}}}
    _write_versions(
        tmp_path,
        {
            "1.0.0": spots,
            "1.1.0": {**spots, "properties": {"spots": {"type": ["integer", "null"]}}},
            "2.0.0": {**spots, "required": ["spots"]},
        },
    )
    catalogue = ppi_schemas.load_catalogue(tmp_path)
    monkeypatch.setattr(ppi_schemas.registry, "catalogue", lambda: catalogue)


@pytest.mark.usefixtures("parking_catalogue")
def test_compat_backward_compatible_exits_0() -> None:
    result = runner.invoke(app, ["compat", "parking", "1.0.0", "1.1.0"])
    assert result.exit_code == 0
    assert "parking@1.0.0 -> parking@1.1.0: backward" in result.output


@pytest.mark.usefixtures("parking_catalogue")
def test_compat_breaking_exits_1_with_reasons() -> None:
    result = runner.invoke(app, ["compat", "parking", "1", "2"])
    assert result.exit_code == 1
    assert "parking@1.1.0 -> parking@2.0.0: forward" in result.output
    assert "Reasons" in result.output
    assert "/required" in result.output
    assert "/properties/spots/type" in result.output


def test_compat_unknown_version_exits_2() -> None:
    result = runner.invoke(app, ["compat", "problem-details", "1.0.0", "1.1.0"])
    assert result.exit_code == 2
    assert "no version matching '1.1.0'" in result.output


def test_rdf_prints_parseable_turtle() -> None:
    result = runner.invoke(app, ["rdf", "mim-description@1.0.0"])
    assert result.exit_code == 0
    graph = Graph().parse(data=result.output, format="turtle")
    assert (URIRef("https://w3id.org/oup/ppi/mim-description/1.0.0"), None, None) in graph


def test_rdf_without_argument_describes_the_catalogue() -> None:
    result = runner.invoke(app, ["rdf"])
    assert result.exit_code == 0
    graph = Graph().parse(data=result.output, format="turtle")
    datasets = set(graph.objects(URIRef("https://w3id.org/oup/ppi/"), URIRef("http://www.w3.org/ns/dcat#dataset")))
    assert len(datasets) == len(ppi_schemas.registry.catalogue())
