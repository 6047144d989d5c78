"""The OpenAPI 3.1 document, made from the route table and the pydantic models the handlers
use (never written by hand): every operation's request body, parameters and responses, the
bearer scheme, and the webhooks Lockstep sends."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bot.api.http import Handler
from flows.engine import WEBHOOK_EVENTS

REF = "#/components/schemas/{model}"
Body = type[BaseModel] | dict[str, Any] | None  # a model, an inline JSON schema, or no body
SSE = "text/event-stream"


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["query", "header"]
    description: str
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True)
class Operation:
    """One route: what it takes and every answer it may give, by status."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    responses: dict[int, Body]
    body: Body = None
    params: tuple[Param, ...] = ()
    media: str = "application/json"  # of the 2xx answers

    @property
    def operation_id(self) -> str:
        name = getattr(self.handler, "__name__", "op").strip("_")
        return f"{self.tag}_{name}_{self.method.lower()}"


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in _template(path).split("/") if part.startswith("{")]


def _template(path: str) -> str:
    """The route's path as OpenAPI writes it: ``/-/{path:.*}`` (aiohttp's pattern for the
    rest of the URL, slashes and all) is ``/-/{path}``."""
    return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)


def document(
    operations: Sequence[Operation], webhook: type[BaseModel], info: dict[str, str]
) -> dict[str, Any]:
    models: set[tuple[type[BaseModel], Literal["validation", "serialization"]]] = {
        (webhook, "serialization")
    }
    for op in operations:
        if isinstance(op.body, type):
            models.add((op.body, "validation"))
        for answer in op.responses.values():
            if isinstance(answer, type):
                models.add((answer, "serialization"))
    refs, defs = models_json_schema(sorted(models, key=lambda m: m[0].__name__), ref_template=REF)

    def content(answer: Body, media: str) -> dict[str, Any]:
        if answer is None:
            return {}
        schema = refs[(answer, "serialization")] if isinstance(answer, type) else answer
        return {"content": {media: {"schema": schema}}}

    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in _path_params(op.path)
        ] + [
            {"name": p.name, "in": p.where, "required": False, "description": p.description,
             "schema": p.schema}
            for p in op.params
        ]  # fmt: skip
        spec: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "responses": {
                str(status): {
                    "description": HTTPStatus(status).phrase,
                    **content(answer, op.media if status < 300 else "application/json"),
                }
                for status, answer in sorted(op.responses.items())
            },
        }
        if params:
            spec["parameters"] = params
        if op.body is not None:
            schema = refs[(op.body, "validation")] if isinstance(op.body, type) else op.body
            spec["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            }
        if op.path == "/api/v1/openapi.json":
            spec["security"] = []
        paths.setdefault(_template(op.path), {})[op.method.lower()] = spec
    hook = refs[(webhook, "serialization")]
    return {
        "openapi": "3.1.0",
        "info": info,
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "security": [{"bearer": []}],
        "paths": paths,
        "webhooks": {
            kind: {
                "post": {
                    "summary": f"{kind}, signed the Standard Webhooks way",
                    "parameters": [
                        {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
                        for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": hook}},
                    },
                    "responses": {"2XX": {"description": "Received; anything else is retried"}},
                }
            }
            for kind in WEBHOOK_EVENTS
        },
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `lockstep token create`",
                }
            },
        },
    }
