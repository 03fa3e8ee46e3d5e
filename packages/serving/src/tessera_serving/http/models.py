"""The registry routes: list and show model versions, import by reference, promote."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from . import _service as api
from .auth import read_access, write_access
from .ops import service

router = APIRouter(prefix="/reranker-models", tags=["models"])
Version = Annotated[int, Path(ge=1, le=2**31 - 1, description="a model version")]


class ImportByReference(BaseModel):
    """A booster already in the artifact store, registered with its run record."""

    model_config = ConfigDict(extra="forbid")

    artifact_uri: str = Field(description="the booster's URI inside the configured store")
    run: dict[str, Any] = Field(description="the run record (the run's run.json object)")
    name: str | None = Field(default=None, description="model name (default: the run's)")
    spec_yaml: str | None = Field(default=None, description="the run's spec.yaml text")
    allow_unknown_schema: bool = False


class PromoteBody(BaseModel):
    """Why the version is promoted (kept in the promotion history)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = "promote"


@router.get(
    "",
    summary="Every model version, newest first within a name",
    dependencies=[Depends(read_access)],
)
async def list_models(request: Request) -> list[dict[str, Any]]:
    versions = await run_in_threadpool(api.list_versions, service(request).registry)
    return [v.to_plain() for v in versions]


@router.get(
    "/{name}", summary="The versions of one model name", dependencies=[Depends(read_access)]
)
async def show_name(name: str, request: Request) -> dict[str, Any]:
    registry = service(request).registry
    versions = await run_in_threadpool(api.list_versions, registry, name)
    if not versions:  # the facade's one-line not-found message
        await run_in_threadpool(api.describe_version, registry, name)
    return {"name": name, "versions": [v.to_plain() for v in versions]}


@router.get(
    "/{name}/versions/{version}",
    summary="One version with provenance (as models show)",
    dependencies=[Depends(read_access)],
)
async def show_version(
    name: str, version: Version, request: Request, full: bool = False
) -> dict[str, Any]:
    document: dict[str, Any] = await run_in_threadpool(
        lambda: api.describe_version(service(request).registry, f"{name}#{version}", full=full)
    )
    return document


@router.post(
    "/import-by-reference",
    status_code=201,
    summary="Register a booster already in the store (URIs inside the store only)",
    dependencies=[Depends(write_access)],
)
async def import_by_reference(body: ImportByReference, request: Request) -> dict[str, Any]:
    registered = await run_in_threadpool(
        lambda: api.import_run_record(
            service(request).registry,
            artifact_uri=body.artifact_uri,
            run=body.run,
            name=body.name,
            spec_yaml=body.spec_yaml,
            allow_unknown_schema=body.allow_unknown_schema,
        )
    )
    return {
        "name": registered.name,
        "version": registered.version,
        "created": registered.created,
        "detail": registered.describe(),
    }


@router.post(
    "/{name}/versions/{version}/promote",
    summary="The promote gate, as the CLI: PROMOTE verdict and smoke: false",
    dependencies=[Depends(write_access)],
)
async def promote(
    name: str, version: Version, request: Request, body: PromoteBody | None = None
) -> dict[str, Any]:
    reason = body.reason if body is not None else "promote"
    result = await run_in_threadpool(
        lambda: api.promote(service(request).registry, f"{name}#{version}", reason=reason)
    )
    return {
        "name": result.name,
        "version": result.version,
        "changed": result.changed,
        "archived": list(result.archived),
        "detail": result.describe(),
    }
