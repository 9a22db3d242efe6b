"""The PPI catalogue: loading, version selection, helpful lookups, loud failures on broken contracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import ppi_schemas
from ppi_schemas import InvalidPPI, PPINotFound, Version, load_catalogue

SHIPPED = ["mim-description", "ngsi-ld-entity", "problem-details"]  # the first contracts (EUPL-1.2)


def write_ppi(root: Path, name: str, version: str, *, schema: Any = None, **metadata: Any) -> Path:
    """A minimal, correct PPI folder; keyword arguments override ppi.json members (None removes)."""
    folder = root / name / version
    (folder / "examples" / "valid").mkdir(parents=True)
    (folder / "examples" / "invalid").mkdir(parents=True)
    document = {
        "name": name,
        "version": version,
        "title": f"{name} test contract",
        "description": "A contract used by the tests.",
        "status": "draft",
        "mediaType": "application/json",
        "contextUrl": f"https://w3id.org/oup/ppi/{name}/{version}/context.jsonld",
        "schema": "schema.json",
        "producers": ["echo"],
        "consumers": ["gateway"],
        "license": "EUPL-1.2",
        "keywords": ["test"],
        "changelog": "../CHANGELOG.md",
    }
    document.update(metadata)
    document = {key: value for key, value in document.items() if value is not None}
    if schema is None:
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://w3id.org/oup/ppi/{name}/{version}/schema.json",
            "type": "object",
        }
    (folder / "ppi.json").write_text(json.dumps(document))
    (folder / "schema.json").write_text(json.dumps(schema))
    (folder / "context.jsonld").write_text(json.dumps({"@context": {"@vocab": "https://example.org/"}}))
    (root / name / "CHANGELOG.md").write_text(f"# {name}\n")
    return folder


def test_shipped_catalogue_holds_the_initial_ppis() -> None:
    catalogue = ppi_schemas.catalogue()
    assert set(SHIPPED) <= set(catalogue.names())
    assert [catalogue.get(name).ref for name in SHIPPED] == [f"{name}@1.0.0" for name in SHIPPED]
    assert all(ppi.status == "stable" and ppi.major == 1 for ppi in catalogue)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_ppi_follows_the_conventions(name: str) -> None:
    ppi = ppi_schemas.get(name)
    base = f"https://w3id.org/oup/ppi/{name}/{ppi.version}"
    assert ppi.schema["$id"] == ppi.schema_id == f"{base}/schema.json"
    assert ppi.context_url == f"{base}/context.jsonld"
    assert ppi.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "@context" in ppi.context
    assert ppi.path == Path(ppi_schemas.__file__).parent / name / ppi.version
    assert ppi.changelog is not None and f"## [{ppi.version}]" in ppi.changelog.read_text(encoding="utf-8")
    assert ppi.license.split(" AND ")[0] == "EUPL-1.2"
    assert ppi.producers and ppi.consumers and ppi.keywords


def test_get_by_exact_version_major_minor_or_latest(tmp_path: Path) -> None:
    for version in ("1.0.0", "1.2.0", "1.9.3", "1.10.0", "2.0.0"):
        write_ppi(tmp_path, "parking", version)
    catalogue = load_catalogue(tmp_path)
    assert catalogue.versions("parking") == ["1.0.0", "1.2.0", "1.9.3", "1.10.0", "2.0.0"]
    assert catalogue.get("parking", "1.2.0").version == "1.2.0"
    assert catalogue.get("parking", "1").version == "1.10.0"
    assert catalogue.get("parking", "1.9").version == "1.9.3"
    assert catalogue.get("parking").version == "2.0.0"
    assert catalogue.resolve("parking@1").version == "1.10.0"
    assert catalogue.resolve("parking").version == "2.0.0"


def test_predecessor_is_the_next_lower_version(tmp_path: Path) -> None:
    for version in ("1.0.0", "1.2.0", "1.10.0"):
        write_ppi(tmp_path, "parking", version)
    catalogue = load_catalogue(tmp_path)
    assert catalogue.predecessor(catalogue.get("parking", "1.10.0")).version == "1.2.0"
    assert catalogue.predecessor(catalogue.get("parking", "1.0.0")) is None


def test_module_level_get_accepts_all_reference_forms() -> None:
    assert ppi_schemas.get("problem-details@1.0.0").ref == "problem-details@1.0.0"
    assert ppi_schemas.get("problem-details@1").ref == "problem-details@1.0.0"
    assert ppi_schemas.get("problem-details").ref == "problem-details@1.0.0"


def test_unknown_name_lists_available_ppis_and_suggests_a_close_one() -> None:
    with pytest.raises(PPINotFound) as raised:
        ppi_schemas.get("ngsi-ld-entities@1")
    message = str(raised.value)
    assert "'ngsi-ld-entities'" in message
    assert "Did you mean 'ngsi-ld-entity'?" in message
    assert ", ".join(ppi_schemas.registry.catalogue().names()) in message


def test_unknown_version_lists_available_versions(tmp_path: Path) -> None:
    for version in ("1.0.0", "1.1.0"):
        write_ppi(tmp_path, "parking", version)
    catalogue = load_catalogue(tmp_path)
    with pytest.raises(PPINotFound, match=r"no version matching '2'; available: 1\.0\.0, 1\.1\.0"):
        catalogue.get("parking", "2")
    with pytest.raises(PPINotFound, match=r"'1\.x' is not a version selector.*available: 1\.0\.0, 1\.1\.0"):
        catalogue.get("parking", "1.x")


@pytest.mark.parametrize("text", ["1.0", "01.0.0", "1.0.0-rc.1", "v1.0.0", ""])
def test_version_parse_rejects_anything_but_major_minor_patch(text: str) -> None:
    with pytest.raises(ValueError, match="MAJOR.MINOR.PATCH"):
        Version.parse(text)


def test_versions_compare_numerically() -> None:
    assert Version.parse("1.10.0") > Version.parse("1.9.12")
    assert str(Version.parse("0.3.7")) == "0.3.7"


def test_metadata_breaking_the_meta_schema_fails_with_path_and_member(tmp_path: Path) -> None:
    folder = write_ppi(tmp_path, "parking", "1.0.0", status="beta", license=None)
    with pytest.raises(InvalidPPI) as raised:
        load_catalogue(tmp_path)
    message = str(raised.value)
    assert str(folder / "ppi.json") in message
    assert "status: 'beta' is not one of" in message
    assert "'license' is a required property" in message


def test_metadata_must_match_its_folder(tmp_path: Path) -> None:
    folder = write_ppi(tmp_path, "parking", "1.0.0")
    metadata = json.loads((folder / "ppi.json").read_text())
    (folder / "ppi.json").write_text(json.dumps({**metadata, "version": "1.1.0"}))
    with pytest.raises(InvalidPPI, match=r"declares parking@1\.1\.0 but lives in parking/1\.0\.0"):
        load_catalogue(tmp_path)


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"$id": "https://w3id.org/oup/ppi/parking/1.0.0/schema.json", "type": 5}, "not a valid JSON Schema 2020-12"),
        ({"$id": "https://example.org/parking.json"}, r"\$id must be 'https://w3id.org/oup/ppi/parking/1.0.0/schema.json'"),
        ({"type": "object"}, r"\$id must be .*found None"),
        (
            {"$schema": "http://json-schema.org/draft-07/schema#", "$id": "https://w3id.org/oup/ppi/parking/1.0.0/schema.json"},
            "are JSON Schema 2020-12",
        ),
    ],
)
def test_broken_schema_fails_at_load(tmp_path: Path, schema: dict[str, Any], expected: str) -> None:
    folder = write_ppi(tmp_path, "parking", "1.0.0", schema=schema)
    with pytest.raises(InvalidPPI, match=expected) as raised:
        load_catalogue(tmp_path)
    assert str(folder / "schema.json") in str(raised.value)


def test_missing_or_malformed_files_fail_at_load(tmp_path: Path) -> None:
    folder = write_ppi(tmp_path, "parking", "1.0.0")
    (folder / "context.jsonld").write_text("{not json")
    with pytest.raises(InvalidPPI, match="context.jsonld: not valid JSON"):
        load_catalogue(tmp_path)
    (folder / "context.jsonld").write_text('{"terms": {}}')
    with pytest.raises(InvalidPPI, match="must be a JSON object with an @context member"):
        load_catalogue(tmp_path)
    (folder / "context.jsonld").unlink()
    with pytest.raises(InvalidPPI, match="context.jsonld: file is missing"):
        load_catalogue(tmp_path)


def test_missing_changelog_fails_at_load(tmp_path: Path) -> None:
    write_ppi(tmp_path, "parking", "1.0.0")
    (tmp_path / "parking" / "CHANGELOG.md").unlink()
    with pytest.raises(InvalidPPI, match="changelog '../CHANGELOG.md' does not exist"):
        load_catalogue(tmp_path)


def test_examples_are_read_with_their_expectations(tmp_path: Path) -> None:
    folder = write_ppi(tmp_path, "parking", "1.0.0")
    (folder / "examples" / "valid" / "b.json").write_text('{"spots": 2}')
    (folder / "examples" / "valid" / "a.json").write_text('{"spots": 1}')
    (folder / "examples" / "invalid" / "negative.json").write_text('{"spots": -1}')
    (folder / "examples" / "invalid" / "negative.expect.json").write_text('{"pointer": "/spots", "reason": "no debt"}')
    ppi = load_catalogue(tmp_path).get("parking")
    assert [(e.name, e.payload) for e in ppi.examples_valid] == [("a", {"spots": 1}), ("b", {"spots": 2})]
    [invalid] = ppi.examples_invalid
    assert (invalid.name, invalid.payload, invalid.pointer, invalid.reason) == ("negative", {"spots": -1}, "/spots", "no debt")


def test_invalid_example_without_expectation_is_a_broken_contract(tmp_path: Path) -> None:
    folder = write_ppi(tmp_path, "parking", "1.0.0")
    (folder / "examples" / "invalid" / "negative.json").write_text('{"spots": -1}')
    with pytest.raises(InvalidPPI, match="negative.json: invalid example has no negative.expect.json"):
        load_catalogue(tmp_path).get("parking").examples_invalid
    (folder / "examples" / "invalid" / "negative.expect.json").write_text('{"pointer": "/spots"}')
    with pytest.raises(InvalidPPI, match="needs string members 'pointer' and 'reason'"):
        load_catalogue(tmp_path).get("parking").examples_invalid


def test_ppi_equality_and_hash_ignore_the_documents(tmp_path: Path) -> None:
    write_ppi(tmp_path, "parking", "1.0.0")
    first = load_catalogue(tmp_path).get("parking")
    second = load_catalogue(tmp_path).get("parking")
    assert first == second and hash(first) == hash(second)
    assert first != ppi_schemas.get("problem-details")
