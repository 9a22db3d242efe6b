"""The PPI catalogue: contracts as data folders, loaded and checked once.

A PPI lives in ``<root>/<name>/<MAJOR.MINOR.PATCH>/`` (``ppi.json``, the JSON Schema, the JSON-LD
context and examples). Loading validates every ``ppi.json`` against ``ppi.schema.json`` and checks
that the files it points at exist and parse, so a broken contract fails at start-up with its
path instead of surfacing as a puzzling validation result later.

Versions follow Semantic Versioning: a selector ``1`` means "the latest 1.x.y", ``1.2`` "the
latest 1.2.y", and no selector means the latest version overall.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

PACKAGE_DIR = Path(__file__).resolve().parent
META_SCHEMA_PATH = PACKAGE_DIR / "ppi.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID_TEMPLATE = "https://w3id.org/oup/ppi/{name}/{version}/schema.json"
EXPECT_SUFFIX = ".expect.json"
_EXPECTED = ("pointer", "reason")

_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
_SELECTOR = re.compile(r"(0|[1-9]\d*)(?:\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?)?")


class PPINotFound(LookupError):
    """No PPI matches a name or version selector; the message lists what is available."""


class InvalidPPI(ValueError):
    """A PPI folder breaks the layout or metadata rules; the message names the file."""


class Version(NamedTuple):
    """A ``MAJOR.MINOR.PATCH`` version; tuples compare numerically, so ``1.10.0 > 1.9.0``."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _SEMVER.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not a MAJOR.MINOR.PATCH version")
        return cls(*(int(part) for part in match.groups()))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True, slots=True)
class Example:
    """A shipped example payload; invalid ones carry the pointer and reason they must fail on."""

    name: str
    payload: Any
    pointer: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class PPI:
    """One version of a Pivotal Point of Interoperability.

    Equality and hashing use the metadata and folder, not the schema and context documents, so a
    PPI can key caches of compiled validators.
    """

    name: str
    version: str
    title: str
    description: str
    status: str
    media_type: str
    context_url: str
    schema: dict[str, Any] = field(compare=False, repr=False)
    context: dict[str, Any] = field(compare=False, repr=False)
    path: Path
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    license: str
    keywords: tuple[str, ...] = ()
    changelog: Path | None = None
    based_on: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def major(self) -> int:
        return Version.parse(self.version).major

    @property
    def schema_id(self) -> str:
        """The schema's ``$id``; loading guarantees it is ``SCHEMA_ID_TEMPLATE`` filled in."""
        return self.schema.get("$id", SCHEMA_ID_TEMPLATE.format(name=self.name, version=self.version))

    @property
    def examples_valid(self) -> list[Example]:
        files = _example_files(self.path / "examples" / "valid")
        return [Example(file.stem, _read_json(file)) for file in files]

    @property
    def examples_invalid(self) -> list[Example]:
        examples = []
        for file in _example_files(self.path / "examples" / "invalid"):
            sidecar = file.with_name(file.stem + EXPECT_SUFFIX)
            if not sidecar.is_file():
                raise InvalidPPI(f"{file}: invalid example has no {sidecar.name} with its pointer and reason")
            expect = _read_json(sidecar)
            if not isinstance(expect, dict) or not all(isinstance(expect.get(k), str) for k in _EXPECTED):
                raise InvalidPPI(f"{sidecar}: needs string members 'pointer' and 'reason'")
            examples.append(Example(file.stem, _read_json(file), expect["pointer"], expect["reason"]))
        return examples


class Catalogue:
    """All PPIs under one root folder, indexed by name and version."""

    def __init__(self, ppis: Iterable[PPI], root: Path | None = None) -> None:
        self.root = root
        self._by_name: dict[str, dict[Version, PPI]] = {}
        for ppi in ppis:
            versions = self._by_name.setdefault(ppi.name, {})
            version = Version.parse(ppi.version)
            if version in versions:
                raise InvalidPPI(f"{ppi.path}: {ppi.ref} is defined twice (also at {versions[version].path})")
            versions[version] = ppi
        for name, versions in self._by_name.items():
            self._by_name[name] = dict(sorted(versions.items()))

    def __iter__(self) -> Iterator[PPI]:
        for name in self.names():
            yield from self._by_name[name].values()

    def __len__(self) -> int:
        return sum(len(versions) for versions in self._by_name.values())

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def versions(self, name: str) -> list[str]:
        """Versions of ``name``, ascending by semantic version."""
        return [str(version) for version in self._versions_of(name)]

    def get(self, name: str, version: str | None = None) -> PPI:
        """``name`` at an exact version, the latest of a ``MAJOR`` or ``MAJOR.MINOR``, or the latest."""
        versions = self._versions_of(name)
        if version is None or version == "":
            return versions[max(versions)]
        match = _SELECTOR.fullmatch(version)
        if match is None:
            raise PPINotFound(
                f"{version!r} is not a version selector for PPI {name!r} (use MAJOR, MAJOR.MINOR or "
                f"MAJOR.MINOR.PATCH); available: {', '.join(self.versions(name))}"
            )
        wanted = tuple(int(part) for part in match.groups() if part is not None)
        matching = [v for v in versions if v[: len(wanted)] == wanted]
        if not matching:
            available = ", ".join(self.versions(name))
            raise PPINotFound(f"PPI {name!r} has no version matching {version!r}; available: {available}")
        return versions[max(matching)]

    def resolve(self, ref: str) -> PPI:
        """The PPI a reference names: ``name``, ``name@MAJOR``, ``name@MAJOR.MINOR`` or ``name@M.M.P``."""
        name, _, version = ref.partition("@")
        return self.get(name, version or None)

    def predecessor(self, ppi: PPI) -> PPI | None:
        """The version of the same PPI just before ``ppi``, if any."""
        older = [v for v in self._versions_of(ppi.name) if v < Version.parse(ppi.version)]
        return self._by_name[ppi.name][max(older)] if older else None

    def _versions_of(self, name: str) -> dict[Version, PPI]:
        try:
            return self._by_name[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._by_name, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PPINotFound(
                f"no PPI named {name!r}.{hint} Available: {', '.join(self.names()) or 'none'}"
            ) from None


def load_catalogue(root: Path) -> Catalogue:
    """Load every ``<root>/*/*/ppi.json``; raise :class:`InvalidPPI` on the first broken contract."""
    meta_schema = _read_json(META_SCHEMA_PATH)
    meta = Draft202012Validator(meta_schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return Catalogue((_load_ppi(path.parent, meta) for path in sorted(root.glob("*/*/ppi.json"))), root)


@functools.cache
def catalogue() -> Catalogue:
    """The catalogue shipped in this package, loaded once."""
    return load_catalogue(PACKAGE_DIR)


def get(ref: str) -> PPI:
    """Look a PPI up in the shipped catalogue: ``"name@1.0.0"``, ``"name@1"`` or ``"name"``."""
    return catalogue().resolve(ref)


def _load_ppi(folder: Path, meta: Draft202012Validator) -> PPI:
    """Read one PPI version folder, checking its metadata, layout and documents."""
    metadata_path = folder / "ppi.json"
    metadata = _read_json(metadata_path)
    errors = meta.iter_errors(metadata)
    located = sorted(("/".join(map(str, error.path)) or "(root)", error.message) for error in errors)
    if located:
        details = "; ".join(f"{where}: {message}" for where, message in located)
        raise InvalidPPI(f"{metadata_path}: does not match ppi.schema.json: {details}")
    name, version = metadata["name"], metadata["version"]
    if (folder.parent.name, folder.name) != (name, version):
        where = f"{folder.parent.name}/{folder.name}"
        raise InvalidPPI(f"{metadata_path}: declares {name}@{version} but lives in {where}")
    schema = _read_json(folder / metadata["schema"])
    _check_schema(folder / metadata["schema"], schema, SCHEMA_ID_TEMPLATE.format(name=name, version=version))
    context = _read_json(folder / "context.jsonld")
    if not isinstance(context, dict) or "@context" not in context:
        raise InvalidPPI(f"{folder / 'context.jsonld'}: must be a JSON object with an @context member")
    changelog = (folder / metadata["changelog"]).resolve()
    if not changelog.is_file():
        raise InvalidPPI(f"{metadata_path}: changelog {metadata['changelog']!r} does not exist")
    return PPI(
        name=name,
        version=version,
        title=metadata["title"],
        description=metadata["description"],
        status=metadata["status"],
        media_type=metadata["mediaType"],
        context_url=metadata["contextUrl"],
        schema=schema,
        context=context,
        path=folder,
        producers=tuple(metadata["producers"]),
        consumers=tuple(metadata["consumers"]),
        license=metadata["license"],
        keywords=tuple(metadata["keywords"]),
        changelog=changelog,
        based_on=tuple(metadata.get("basedOn", ())),
    )


def _check_schema(path: Path, schema: Any, expected_id: str) -> None:
    dialect = schema.get("$schema", DIALECT) if isinstance(schema, dict) else DIALECT
    if dialect != DIALECT:
        raise InvalidPPI(f"{path}: PPI schemas are JSON Schema 2020-12 ({DIALECT}), not {dialect!r}")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        raise InvalidPPI(f"{path}: not a valid JSON Schema 2020-12 document: {error.message}") from None
    found = schema.get("$id") if isinstance(schema, dict) else None
    if found != expected_id:
        raise InvalidPPI(f"{path}: $id must be {expected_id!r}, found {found!r}")


def _example_files(folder: Path) -> list[Path]:
    return sorted(file for file in folder.glob("*.json") if not file.name.endswith(EXPECT_SUFFIX))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidPPI(f"{path}: file is missing") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidPPI(f"{path}: not valid JSON: {error}") from None
