"""The API's route table, read top to bottom: every route with what it takes and answers. The
same table mounts the handlers and makes the OpenAPI document (``/api/v1/openapi.json``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.api.auth import Principal, Tokens
from bot.api.http import Plain, guarded, reply, served
from bot.api.kodosumi import Kodosumi
from bot.api.models import (
    Answered,
    AnswerRequest,
    Audit,
    CancelRequest,
    FlowList,
    Invalid,
    KodosumiLaunchAnswer,
    KodosumiLockAnswer,
    KodosumiNotFound,
    KodosumiStatus,
    Lock,
    Problem,
    Run,
    RunPage,
    StartRequest,
    WebhookEvent,
)
from bot.api.openapi import SSE, Operation, Param, document
from bot.api.service import MAX_PAGE, Api
from bot.api.stream import Feed, Stream
from bot.logs import Refusals
from flows.engine import Engine

V1 = "/api/v1"
OPENAPI = f"{V1}/openapi.json"
INFO = {
    "title": "Lockstep",
    "version": "1",
    "description": "Start Lockstep flows, read their runs, and answer their locks over HTTP; "
    "the people answer in Slack. Every action is recorded with the token's name.",
}
DENIED = {401: Problem, 403: Problem}
UNKNOWN = {503: Problem}  # who may (a channel's or a group's members): not known in time
_OBJECT: dict[str, Any] = {"type": "object"}


def operations(api: Api, stream: Stream, kodosumi: Kodosumi, spec: Any) -> list[Operation]:
    run_filters = (
        Param("flow", "query", "Only runs of this flow"),
        Param("status", "query", "Only runs in these statuses (comma-separated)"),
        Param("initiator", "query", "Only runs started by this Slack user id, or api:<name>"),
        Param("channel", "query", "Only runs in this Slack channel"),
        Param("waiting_on", "query", "Only runs with an open lock waiting on this user"),
        Param("limit", "query", f"Runs per page, 1 to {MAX_PAGE} (20)", {"type": "integer"}),
        Param("after", "query", "The `next` cursor of the previous page"),
    )
    return [
        Operation("GET", OPENAPI, spec, "This document", "meta", {200: _OBJECT}),
        Operation(
            "GET",
            f"{V1}/flows",
            api.flows,
            "Flows this token may start or read, with their entry forms",
            "flows",
            {200: FlowList, 401: Problem},
        ),
        Operation(
            "POST",
            f"{V1}/runs",
            api.start,
            "Start a run (inputs checked as the entry form checks them)",
            "runs",
            {
                200: Run,
                201: Run,
                400: Problem,
                **DENIED,
                404: Problem,
                409: Problem,
                422: Invalid,
                500: Problem,
            },
            body=StartRequest,
            params=(Param("Idempotency-Key", "header", "The same key again: the same run"),),
        ),
        Operation(
            "GET",
            f"{V1}/runs",
            api.runs,
            "List runs, newest first",
            "runs",
            {200: RunPage, 400: Problem, **DENIED, **UNKNOWN},
            params=run_filters,
        ),
        Operation(
            "GET",
            f"{V1}/runs/{{run_id}}",
            api.run,
            "A run: status, open locks, result or error, Slack link",
            "runs",
            {200: Run, **DENIED, 404: Problem},
        ),
        Operation(
            "POST",
            f"{V1}/runs/{{run_id}}/cancel",
            api.cancel,
            "Cancel a run",
            "runs",
            {200: Run, 400: Problem, **DENIED, 404: Problem, 409: Problem, **UNKNOWN},
            body=CancelRequest,
        ),
        Operation(
            "GET",
            f"{V1}/runs/{{run_id}}/audit",
            api.audit,
            "A run's audit trail",
            "runs",
            {200: Audit, **DENIED, 404: Problem},
        ),
        Operation(
            "GET",
            f"{V1}/runs/{{run_id}}/events",
            stream.events,
            "A run's events as server-sent events (data: RunEvent; last: `end` with the Run)",
            "runs",
            {200: {"type": "string"}, 400: Problem, **DENIED, 404: Problem, 429: Problem},
            params=(
                Param("Last-Event-ID", "header", "Resume after this event"),
                Param("after", "query", "Resume after this event id", {"type": "integer"}),
            ),
            media=SSE,
        ),
        Operation(
            "GET",
            f"{V1}/locks/{{lock_id}}",
            api.lock,
            "A lock: its form and data",
            "locks",
            {200: Lock, **DENIED, 404: Problem},
        ),
        Operation(
            "POST",
            f"{V1}/locks/{{lock_id}}/answer",
            api.answer,
            "Answer a lock (Submit with inputs, or reject); its lease checks the inputs",
            "locks",
            {
                200: Answered,
                400: Problem,
                **DENIED,
                404: Problem,
                409: Problem,
                422: Invalid,
                500: Problem,
                **UNKNOWN,
            },
            body=AnswerRequest,
            params=(
                Param(
                    "Idempotency-Key",
                    "header",
                    "The same key and answer again: what the first made of it, not a 409",
                ),
            ),
        ),
        Operation(
            "GET",
            "/flow",
            kodosumi.flows,
            "kodosumi: the flows, a page at a time (`pp`, `offset`, `q`), with their panel URLs",
            "kodosumi",
            {200: _OBJECT, 400: Problem, 401: Problem},
            params=(
                Param("q", "query", "Only flows whose name, summary, tags... hold this"),
                Param("pp", "query", "Flows per page (10)", {"type": "integer"}),
                Param("offset", "query", "The `offset` of the previous page"),
            ),
        ),
        Operation(
            "GET",
            "/flow/tags",
            kodosumi.tags,
            "kodosumi: the flows' tags, each with how many flows have it",
            "kodosumi",
            {200: _OBJECT, 401: Problem},
        ),
        Operation(
            "GET",
            "/-/{path:.*}",
            kodosumi.schema,
            "kodosumi: an entry's form (the path as kodosumi's panel has it, or the entry's)",
            "kodosumi",
            {200: _OBJECT, **DENIED, 404: KodosumiNotFound},
        ),
        Operation(
            "GET",
            "/inputs/-/{path:.*}",
            kodosumi.inputs,
            "kodosumi: an entry's form, as kodosumi's panel serves it at /inputs/-/…",
            "kodosumi",
            {200: _OBJECT, **DENIED, 404: KodosumiNotFound},
        ),
        Operation(
            "POST",
            "/inputs/-/{path:.*}",
            kodosumi.inputs_launch,
            "kodosumi: launch an entry as its panel's form does: 302 to the run's status",
            "kodosumi",
            {
                200: KodosumiLaunchAnswer,
                302: None,
                400: Problem,
                **DENIED,
                404: KodosumiNotFound,
                500: Problem,
            },
            body=_OBJECT,
        ),
        Operation(
            "POST",
            "/-/{path:.*}",
            kodosumi.launch,
            "kodosumi: launch an entry with its field values",
            "kodosumi",
            {
                200: KodosumiLaunchAnswer,
                400: Problem,
                **DENIED,
                404: KodosumiNotFound,
                500: Problem,
            },
            body=_OBJECT,
        ),
        Operation(
            "GET",
            "/lock/{fid}/{lid}",
            kodosumi.form,
            "kodosumi: a lock's form",
            "kodosumi",
            {200: {"type": "array", "items": _OBJECT}, **DENIED, 404: KodosumiNotFound},
        ),
        Operation(
            "POST",
            "/lock/{fid}/{lid}",
            kodosumi.answer,
            "kodosumi: answer a lock",
            "kodosumi",
            {
                200: KodosumiLockAnswer,
                400: Problem,
                **DENIED,
                404: KodosumiNotFound,
                409: Problem,
                500: Problem,
                **UNKNOWN,
            },
            body=_OBJECT,
        ),
        Operation(
            "GET",
            "/inputs/lock/{fid}/{lid}",
            kodosumi.inputs_form,
            "kodosumi: a lock's form, where its panel shows it",
            "kodosumi",
            {200: {"type": "array", "items": _OBJECT}, **DENIED, 404: KodosumiNotFound},
        ),
        Operation(
            "POST",
            "/inputs/lock/{fid}/{lid}",
            kodosumi.inputs_answer,
            "kodosumi: answer a lock as its panel's form does: 302 to the run's status",
            "kodosumi",
            {
                200: KodosumiLockAnswer,
                302: None,
                400: Problem,
                **DENIED,
                404: KodosumiNotFound,
                409: Problem,
                500: Problem,
                **UNKNOWN,
            },
            body=_OBJECT,
        ),
        Operation(
            "GET",
            "/outputs/status/{fid}",
            kodosumi.status,
            "kodosumi: a run's status",
            "kodosumi",
            {200: KodosumiStatus, **DENIED, 404: KodosumiNotFound},
        ),
        Operation(
            "GET",
            "/outputs/raw/{fid}",
            kodosumi.raw,
            'kodosumi: a run\'s final result, serialized as kodosumi does (`{"dict": …}`)',
            "kodosumi",
            {200: {}, **DENIED, 404: KodosumiNotFound},
        ),
        Operation(
            "DELETE",
            "/outputs/{fid}",
            kodosumi.kill,
            "kodosumi: kill a run (cancel it); an ended run is kept",
            "kodosumi",
            {204: None, **DENIED, 404: KodosumiNotFound, **UNKNOWN},
        ),
        Operation(
            "DELETE",
            "/outputs/",
            kodosumi.kill_list,
            'kodosumi: kill the runs of `{"fid": [...]}`',
            "kodosumi",
            {204: None, 400: Problem, **DENIED, 404: KodosumiNotFound, **UNKNOWN},
            body=_OBJECT,
        ),
        *(
            Operation(
                "GET",
                f"/outputs/{which}/{{fid}}",
                handler,
                f"kodosumi: {what} as kodosumi's server-sent events (data: `<time>:<message>`; "
                "last: `eof`)",
                "kodosumi",
                {200: {"type": "string"}, **DENIED, 404: KodosumiNotFound, 429: Problem},
                media=SSE,
            )
            for which, handler, what in (
                ("stream", kodosumi.stream, "a run's events"),
                ("main", kodosumi.main, "a run's main events (status, results, locks)"),
                ("stdio", kodosumi.stdio, "a run's debug, stdout and stderr output"),
            )
        ),
    ]


def mount(
    app: web.Application,
    engine: Engine,
    tokens: Tokens,
    link: Callable[[str], Awaitable[str | None]],
    feed: Feed,
    refusals: Refusals | None = None,
) -> list[Operation]:
    """Serve the API on ``app``. While no token exists, every route answers 404. Refusals
    that may be tampering are lines of ``refusals`` (one a minute of each kind)."""
    api = Api(engine, link)

    async def live(who: Principal) -> bool:  # its token is not revoked meanwhile
        return await tokens.token(who.token_id) is not None

    stream = Stream(engine, feed, api.readable, api.view, live=live)
    kodosumi = Kodosumi(engine, stream)
    made: dict[str, Any] = {}

    async def spec(request: web.Request, who: Principal | None = None) -> web.StreamResponse:
        return web.json_response(made["doc"])

    table = operations(api, stream, kodosumi, spec)
    made["doc"] = document(table, WebhookEvent, INFO)
    for op in table:
        handler = (
            served(tokens, spec) if op.path == OPENAPI else guarded(tokens, op.handler, refusals)
        )
        app.router.add_route(op.method, op.path, handler)
        if op.tag == "kodosumi" and not op.path.endswith("/") and ".*" not in op.path:
            app.router.add_route(op.method, op.path + "/", handler)  # `/flow/`, as its docs have it
    app.middlewares.append(problems(tokens))
    return table


def problems(tokens: Tokens) -> Any:
    """Under ``/api/v1``, a path no route serves (404) and a method its route does not take
    (405, with ``Allow``) are refusals as JSON too (``Problem``), like every other; while no
    token exists they stay the plain 404 and 405 of any path the bot does not serve."""

    @web.middleware
    async def middleware(request: web.Request, handler: Plain) -> web.StreamResponse:
        try:
            return await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
            path = request.path
            if not (path == V1 or path.startswith(f"{V1}/")) or not await tokens.any_token():
                raise
            if isinstance(exc, web.HTTPNotFound):
                return reply(Problem(error="not_found", message=f"no route {path}"), 404)
            allowed = ", ".join(sorted(exc.allowed_methods))
            message = f"{request.method} is not a method of {path} (it takes {allowed})"
            return reply(Problem(error="bad_request", message=message), 405, Allow=allowed)

    return middleware
