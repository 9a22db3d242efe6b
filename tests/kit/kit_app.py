"""A small MIM used to exercise the kit: one route per kind of input the kit guards."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import ppi_schemas
import pytest
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.testclient import TestClient

from mims.kit.problems import PROBLEM_JSON, ProblemError
from mims.kit.ppi import ppi_body
from mims.kit.service import MimSpec, create_app
from mims.kit.settings import MimSettings

router = APIRouter()


class Thing(BaseModel):
    name: str
    size: int = Field(ge=0)


@router.post("/things")
async def create_thing(thing: Thing) -> dict[str, Any]:
    return thing.model_dump()


@router.post("/entities")
async def create_entity(entity: Annotated[dict[str, Any], Depends(ppi_body("ngsi-ld-entity@1"))]) -> dict[str, Any]:
    return {"id": entity["id"]}


@router.get("/items/{item_id}")
async def get_item(item_id: int, verbose: bool = False) -> dict[str, Any]:
    return {"id": item_id, "verbose": verbose}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals")


@router.get("/gone")
async def gone() -> None:
    raise ProblemError(410, "Gone", "It left.", type="https://example.org/gone", headers={"Retry-After": "60"})


SPEC = MimSpec(
    name="kit-test",
    title="Kit test MIM",
    description="Exercises the service kit.",
    version="1.2.3",
    consumes=("ngsi-ld-entity@1.0.0",),
    routers=(router,),
)


def settings(data_dir: Path, **overrides: Any) -> MimSettings:
    return MimSettings(data_dir=data_dir, **overrides)


def client(data_dir: Path, spec: MimSpec = SPEC, **overrides: Any) -> TestClient:
    return TestClient(create_app(spec, settings(data_dir, **overrides)))


def problem(response: Any, status: int) -> dict[str, Any]:
    """The response's problem document, after checking what every problem must carry."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert body["instance"] == response.request.url.path
    assert body["requestId"] == response.headers["x-request-id"]
    assert ppi_schemas.validate(body, "problem-details@1") == []
    return body


@pytest.fixture
def kit_loggers_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo ``logging.config.dictConfig`` run in-process earlier (import-linter does),
    which disables every logger that already exists, the kit's included."""
    for name in ("mims.kit.access", "mims.kit.errors"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
