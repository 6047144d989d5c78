"""The API's handlers for flows, runs and locks. Each reads its request, checks the token's
scopes, calls the engine's front door with the token as the actor (``api:<name>``: the engine
applies approvers, four-eyes and quorum to it and records it in the audit trail), and answers
from ``bot.api.models``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal, assert_never

from aiohttp import web

from bot.api import views
from bot.api.auth import ACTOR, Principal
from bot.api.http import cursor, invalid, named_nothing, read, refuse, reply, uncursor
from bot.api.models import (
    Answered,
    AnswerRequest,
    Audit,
    CancelRequest,
    Flow,
    FlowList,
    LockSummary,
    Run,
    RunPage,
    StartRequest,
)
from flows import InputsError, Request
from flows.codec import encode
from flows.engine import (
    Answer,
    Call,
    Cancel,
    Engine,
    EntryFailed,
    Event,
    Execution,
    RunQuery,
    UnknownFlow,
    audit_document,
)
from flows.errors import FlowConfigError, NotStorable

START_WAIT = 3.0  # seconds a start waits for the run to park, to answer with its locks and link
MAX_PAGE = 100
STATUSES = ("starting", "running", "awaiting", "finished", "error", "cancelled")


KEY = re.compile(r"[ -~]{1,255}")
KEY_RULE = "at most 255 printable ASCII characters"


def run_id(token: str, key: str) -> str:
    """A run's id from the token and its ``Idempotency-Key``: the same start twice is one run."""
    return hashlib.sha256(f"api:{token}:{key}".encode()).hexdigest()[:32]


class Api:
    def __init__(self, engine: Engine, link: Callable[[str], Awaitable[str | None]]) -> None:
        """``link``: the Slack link to a run's message, or None while it is not posted."""
        self.engine = engine
        self.link = link

    # reading --------------------------------------------------------------------------------

    async def flows(self, request: web.Request, who: Principal) -> web.StreamResponse:
        listed = [
            Flow(
                name=spec.name,
                summary=spec.summary,
                description=spec.description,
                elements=spec.model.to_json() if spec.model else [],
            )
            for spec in self.engine.registry.entries.values()
            if who.scopes.reads(spec.name)
        ]
        return reply(FlowList(flows=listed))

    async def run(self, request: web.Request, who: Principal) -> web.StreamResponse:
        return reply(await self.view(await self.readable(request.match_info["run_id"], who)))

    async def view(self, execution: Execution) -> Run:
        trail = await self.engine.trail(execution.id)
        _, calls, events = trail or (execution, [], [])
        link = await self.link(execution.id)
        return views.run_view(execution, calls, events, link)

    async def readable(self, execution_id: str, who: Principal) -> Execution:
        execution = None
        if not named_nothing(execution_id):
            execution = await self.engine.execution(execution_id, who.workspace)
        if execution is None:
            raise refuse(404, "not_found", f"there is no run {execution_id}")
        if not who.scopes.reads(execution.flow):
            raise refuse(403, "forbidden", f"this token may not read runs of {execution.flow}")
        return execution

    async def runs(self, request: web.Request, who: Principal) -> web.StreamResponse:
        q = request.query
        if any(named_nothing(v) for v in q.values()):
            raise refuse(400, "bad_request", "a query parameter holds a NUL character")
        flow = q.get("flow") or None
        if flow is not None and not who.scopes.reads(flow):
            raise refuse(403, "forbidden", f"this token may not read runs of {flow}")
        waiting_on = q.get("waiting_on", "")
        if waiting_on.startswith(ACTOR) and waiting_on != who.actor:  # what that token may do
            raise refuse(403, "forbidden", "waiting_on: a person, or this token itself")
        status = tuple(s for part in q.getall("status", []) for s in part.split(",") if s)
        if unknown := [s for s in status if s not in STATUSES]:
            raise refuse(400, "bad_request", f"status: no status {unknown[0]!r}")
        given = q.get("limit", "20")
        if not re.fullmatch(r"[0-9]{1,9}", given):  # int() would take " 3", "1_0" or "٣"
            raise refuse(400, "bad_request", "limit: not a whole number")
        limit = int(given)
        if not 1 <= limit <= MAX_PAGE:
            raise refuse(400, "bad_request", f"limit: from 1 to {MAX_PAGE}")
        after = q.get("after")
        query = RunQuery(
            flow=flow,
            flows=who.scopes.readable,  # a page, and the cursor to the next, hold no other run
            status=status,
            initiator=q.get("initiator") or None,
            channel=q.get("channel") or None,
            before=uncursor(after) if after else None,
            limit=limit,
            workspace=who.workspace,
        )
        found = await self.engine.search(query)
        page = found
        if waiting_on:
            page = await self.engine.waiting_on(found, waiting_on)
        shown = [await self.view(e) for e in page]
        last = found[-1] if len(found) == limit else None
        following = cursor(last.created_at, last.id) if last else None
        return reply(RunPage(runs=shown, next=following))

    async def audit(self, request: web.Request, who: Principal) -> web.StreamResponse:
        execution = await self.readable(request.match_info["run_id"], who)
        trail = await self.engine.trail(execution.id)
        assert trail is not None
        return reply(Audit.model_validate(audit_document(*trail)))

    # changing -------------------------------------------------------------------------------

    async def start(self, request: web.Request, who: Principal) -> web.StreamResponse:
        asked = await read(request, StartRequest)
        if not who.scopes.starts(asked.flow):
            raise refuse(403, "forbidden", f"this token may not start {asked.flow}")
        context = {"channel": asked.channel} if asked.channel else {}
        try:
            launch = await self.engine.prepare(
                asked.flow, asked.inputs, Request(asked.flow, who.actor, context)
            )
        except UnknownFlow:
            raise refuse(404, "not_found", f"there is no flow {asked.flow}") from None
        except InputsError as exc:
            raise invalid(exc.wire()) from None
        except EntryFailed as exc:  # the flow's enter handler failed: the log has it by its id
            raise refuse(
                500, "failed", f"the flow could not start (error id {exc.error_id})"
            ) from None
        key = _key(request)
        eid = run_id(who.name, key) if key else None
        if eid is not None and (earlier := await self.engine.execution(eid, who.workspace)):
            self._same(earlier, launch.request.flow, launch.inputs, context)
            return reply(await self.view(earlier), 200, Location=f"/api/v1/runs/{eid}")
        try:
            launched = await self.engine.launch(launch, execution_id=eid, workspace=who.workspace)
        except FlowConfigError as exc:  # the enter handler made inputs that cannot be kept
            raise invalid({"_global_": [str(exc)]}) from None
        eid = launched.id
        started = await self.engine.execution(eid, who.workspace)
        if started is None:  # the id is another workspace's run (a token's name used again)
            raise refuse(409, "conflict", "this Idempotency-Key was used for a different start")
        if not launched.new:  # a twin with the same key raced this one: the same start, or 409
            self._same(started, launch.request.flow, launch.inputs, context)
            return reply(await self.view(started), 200, Location=f"/api/v1/runs/{eid}")
        try:  # answer with its first locks and its link (at once, but for a slow flow or Slack)
            await asyncio.wait_for(asyncio.shield(self.engine.settled(eid)), START_WAIT)
        except TimeoutError:
            pass
        now = await self.engine.execution(eid) or started
        return reply(await self.view(now), 201, Location=f"/api/v1/runs/{eid}")

    @staticmethod
    def _same(earlier: Execution, flow: str, inputs: Any, context: dict[str, str]) -> None:
        """An ``Idempotency-Key`` used again must come with the same request: the same flow,
        context and inputs (as the enter handler launched them, recorded as ``launch`` does)."""
        try:
            same_inputs = earlier.inputs == encode(inputs)
        except NotStorable:
            same_inputs = False
        if earlier.flow != flow or not same_inputs or earlier.context != context:
            raise refuse(409, "conflict", "this Idempotency-Key was used for a different start")

    async def answer(self, request: web.Request, who: Principal) -> web.StreamResponse:
        lock, _ = await self.lock_of(request.match_info["lock_id"], who)
        asked = await read(request, AnswerRequest)
        if not who.scopes.answers:
            raise refuse(403, "forbidden", "this token may not answer: it answers for no one")
        mark = _mark(_key(request), asked)
        if asked.decision == "reject":
            decision = await self.engine.reject(
                lock.id, who.actor, asked.comment, workspace=who.workspace, request=mark
            )
        else:
            decision = await self.engine.submit(
                lock.id, asked.inputs, who.actor, workspace=who.workspace, request=mark
            )
        decided = decision.lock or lock
        if mark and decision.outcome in (Answer.DECIDED, Answer.REPEAT):
            if (again := await self._answered_before(decided, who, mark)) is not None:
                return again
        summary = views.lock_summary(decided)
        match decision.outcome:
            case Answer.ACCEPTED | Answer.REJECTED | Answer.COUNTED:
                outcome = decision.outcome.value
                return reply(
                    Answered(outcome=outcome, lock=summary, approved_by=decision.approvers)
                )
            case Answer.INVALID:
                raise invalid(decision.errors)
            case Answer.DECIDED:
                raise refuse(409, "conflict", _decided(summary))
            case Answer.REPEAT:
                raise refuse(
                    409,
                    "conflict",
                    "this token, or the one person it answers for, has already approved this lock",
                )
            case Answer.FORBIDDEN:
                raise refuse(403, "forbidden", _refusal(decision.allowed))
            case Answer.FAILED:
                raise refuse(
                    500, "failed", f"the lease failed (error id {decision.error_id}); still open"
                )
            case Answer.GONE:
                raise refuse(404, "not_found", f"there is no lock {lock.id}")
            case _:
                assert_never(decision.outcome)

    async def _answered_before(
        self, lock: Call, who: Principal, mark: str
    ) -> web.StreamResponse | None:
        """The answer an ``Idempotency-Key`` made before, as the lock stands now (200); None
        if it made none; 409 if the key came with another answer."""
        events = await self.engine.events(lock.execution_id)
        kinds = {"lease": "accepted", "rejected": "rejected", "approved": None, "declined": None}
        key = mark.partition(" ")[2]
        for event in events:
            said = event.detail.get("request") if isinstance(event.detail, dict) else None
            if event.call_id != lock.id or event.actor != who.actor or event.kind not in kinds:
                continue
            if not isinstance(said, str) or said.partition(" ")[2] != key:
                continue
            if said != mark:
                raise refuse(409, "conflict", "this Idempotency-Key was used for another answer")
            outcome = kinds[event.kind] or _vote_outcome(lock, who.actor)
            people = _approvers(events, lock.id)
            return reply(
                Answered(outcome=outcome, lock=views.lock_summary(lock), approved_by=people)
            )
        return None

    async def lock_of(self, lock_id: str, who: Principal) -> tuple[Call, Execution]:
        lock = None if named_nothing(lock_id) else await self.engine.lock(lock_id, who.workspace)
        if lock is None:
            raise refuse(404, "not_found", f"there is no lock {lock_id}")
        return lock, await self.readable(lock.execution_id, who)

    async def lock(self, request: web.Request, who: Principal) -> web.StreamResponse:
        lock, execution = await self.lock_of(request.match_info["lock_id"], who)
        events = await self.engine.events(execution.id)
        return reply(views.lock_view(lock, execution, _approvers(events, lock.id)))

    async def cancel(self, request: web.Request, who: Principal) -> web.StreamResponse:
        execution = await self.readable(request.match_info["run_id"], who)
        asked = await read(request, CancelRequest)
        reason = asked.reason or f"cancelled by {who.name} (API)"
        cancelled = await self.engine.cancel(
            execution.id, who.actor, reason, workspace=who.workspace
        )
        match cancelled.outcome:
            case Cancel.CANCELLED:
                assert cancelled.execution is not None
                return reply(await self.view(cancelled.execution))
            case Cancel.ENDED:
                raise refuse(409, "conflict", f"the run has already ended ({execution.status})")
            case Cancel.FORBIDDEN:
                admins = ", ".join(cancelled.admins)
                raise refuse(
                    403,
                    "forbidden",
                    "only whoever started the run"
                    + (f" or {admins}" if admins else "")
                    + " may cancel it",
                )
            case Cancel.GONE:
                raise refuse(404, "not_found", f"there is no run {execution.id}")
            case _:
                assert_never(cancelled.outcome)


def _key(request: web.Request) -> str | None:
    """The request's ``Idempotency-Key``, if it has one (400 if it breaks ``KEY_RULE``)."""
    key = request.headers.get("Idempotency-Key")
    if key and not KEY.fullmatch(key):
        raise refuse(400, "bad_request", f"Idempotency-Key: {KEY_RULE}")
    return key or None


def _mark(key: str | None, asked: AnswerRequest) -> str | None:
    """What an answer's event records of its ``Idempotency-Key``: a digest of the answer, a
    space, the key (the same key with another answer is told apart)."""
    if key is None:
        return None
    body = json.dumps(asked.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return f"{hashlib.sha256(body.encode()).hexdigest()[:32]} {key}"


def _approvers(events: list[Event], lock_id: str) -> list[str]:
    """Who approved the lock so far (a quorum's), each once, in order."""
    approved = [e.actor for e in events if e.call_id == lock_id and e.kind == "approved"]
    return list(dict.fromkeys(a for a in approved if a))


def _vote_outcome(lock: Call, actor: str) -> Literal["accepted", "rejected", "counted"]:
    """A quorum answer's outcome: it decided the lock (its answerer decided it last), or it
    was counted."""
    if not lock.open and lock.actor == actor and lock.status in ("resolved", "rejected"):
        return "accepted" if lock.status == "resolved" else "rejected"
    return "counted"


def _refusal(allowed: tuple[str, ...]) -> str:
    if allowed:
        return f"only {', '.join(allowed)} (or a token answering for them) may decide this"
    return "four eyes: this token started the run, or answers for whoever did"


def _decided(lock: LockSummary) -> str:
    by = f" by {lock.decided_by}" if lock.decided_by else ""
    return (
        f"the lock is no longer open: {lock.status}{by} at {lock.decided_at or 'an unknown time'}"
    )
