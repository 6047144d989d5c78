"""``Answers``: how people decide locks. Each answer is checked (the lock is
open, the person may decide it, what they typed parses and its lease accepts it), recorded
with who gave it, and committed before the run is woken (``flows.engine.runs``). A refused
answer leaves the lock open; a second answer to a decided lock changes nothing."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

from flows import typed
from flows.app import Request, Response, approvers, call, standing
from flows.codec import decode, encode
from flows.engine import access, quorum
from flows.engine.guard import Guard
from flows.engine.outcomes import Answer, Decision
from flows.engine.records import Call, Execution, NewEvent, Workspace
from flows.engine.runs import Runs
from flows.engine.scope import ids
from flows.entry import wants
from flows.errors import GLOBAL, InputsError, NotStorable
from flows.forms import Model, redacted
from flows.parse import MAX_TEXT, TOO_LONG, parse
from flows.policy import Policy
from flows.submitted import as_submitted
from flows.text import clean, cleaned

log = logging.getLogger("lockstep.engine")
BUILT_IN_LEASES = {typed.LOCK: typed.validate}  # typed prompts whose answers need checking


class Changed(Protocol):
    def __call__(self, execution_id: str, woken: bool = False) -> None:
        """A run's state changed in this process: show it. ``woken``: this process is about
        to run it."""


NO_REJECT = "This form has no Cancel: it cannot be rejected (cancel the run instead)."


class Answers:
    def __init__(self, guard: Guard, runs: Runs, changed: Changed) -> None:
        self.guard, self.runs, self.changed = guard, runs, changed
        setup = runs.setup
        self.store, self.clock = setup.store, setup.clock
        self.registry, self.observer = setup.registry, setup.observer

    async def submit(
        self,
        lock_id: str,
        inputs: Mapping[str, Any],
        actor: str | None,
        *,
        workspace: Workspace | None = None,
        request: str | None = None,
    ) -> Decision:
        """As ``Engine.submit`` says."""
        inputs = cleaned(dict(inputs))
        found = await self._answerable(lock_id, actor, "submit", workspace)
        if isinstance(found, Decision):
            return found
        lock, execution = found
        form = Model.from_json(lock.form)
        policy = Policy.from_json(lock.policy)
        earlier = await quorum.responses(self.store, lock) if policy.quorum > 1 else ()
        try:
            values = parse(form, inputs)
            if (
                actor is not None
                and await self._approved(actor, earlier, execution)
                and not (await self._met(earlier, policy, execution))
            ):
                return Decision(Answer.REPEAT, lock, responses=earlier)
            mine = Response(actor, True, values, None, self.clock.now())
            lease = partial(self._lease, lock, execution, form, values, inputs, actor)
            result = await lease(standing([*earlier, mine]))
        except InputsError as exc:
            shown = _shown(form, inputs)
            detail = {"inputs": redacted(form, _loose(inputs)), "errors": exc.wire()}
            invalid = NewEvent(kind="invalid", actor=actor, call_id=lock.id, detail=detail)
            draft = {"errors": exc.wire(), "values": shown}
            if not await self._refused(lock, invalid, draft):
                return Decision(Answer.DECIDED, await self.guard.lock(lock.id))
            return Decision(Answer.INVALID, lock, errors=exc.wire(), responses=earlier)
        except Exception:
            error_id = secrets.token_hex(4)
            log.exception(
                "lease %r failed (error id %s)", lock.name, error_id,
                extra=ids(lock.execution_id, lock.id),
            )  # fmt: skip
            failed = NewEvent(kind="lease_failed", actor=actor, detail={"error_id": error_id})
            if not await self._refused(lock, failed, None):
                return Decision(Answer.DECIDED, await self.guard.lock(lock.id))
            return Decision(Answer.FAILED, lock, error_id=error_id)
        detail = {"inputs": redacted(form, encode(values))} | _named(request)
        if policy.quorum > 1:
            return await self._approve(
                lock, execution, policy, actor, detail, result, lease, mine, earlier
            )
        return await self._decide(lock, "resolved", result, actor, None, "lease", detail)

    async def _met(
        self, responses: Sequence[Response], policy: Policy, execution: Execution
    ) -> bool:
        """Enough different people approve (``policy.quorum``)."""
        people = await access.people(approvers(responses), execution, self.guard.directory)
        return len(people) >= policy.quorum

    async def _approved(
        self, actor: str, earlier: tuple[Response, ...], execution: Execution
    ) -> bool:
        """Has ``actor`` approved already: themselves, or as the person they act for (a token
        answering for them, or they for whom a token answered)?"""
        if actor in approvers(earlier):
            return True
        directory = self.guard.directory
        me = await access.people([actor], execution, directory)
        return me[0] in await access.people(approvers(earlier), execution, directory)

    async def _refused(self, lock: Call, event: NewEvent, draft: Any) -> bool:
        """Record an answer the lease refused or crashed on, while the lock is open; False if
        someone decided it meanwhile (its answerer is told that, not to try again)."""
        tied = event.model_copy(update={"call_id": lock.id})
        if not await self.store.refuse(lock.execution_id, self.clock.now(), tied, lock.id, draft):
            return False
        if draft is None:
            self.guard.told(lock.execution_id)  # only the audit trail grew
        else:
            self.changed(lock.execution_id)
        return True

    async def _lease(
        self,
        lock: Call,
        execution: Execution,
        form: Model,
        values: dict[str, Any],
        inputs: Mapping[str, Any],
        actor: str | None,
        responses: list[Response],
    ) -> Any:
        """The lock's value for this answer, given the responses that count so far
        (``standing``): its lease's (which may refuse it with ``InputsError``), or the values
        themselves."""
        flow = execution.flow
        lease = self.registry.lease(flow, lock.name) or BUILT_IN_LEASES.get(lock.name)
        kodosumi = self.registry.kodosumi(flow, lock.name, "leases" if lease else "locks")
        handed = as_submitted(form, values, inputs) if kodosumi else values
        if lease is None:
            return encode(handed)
        request = _request(execution, actor) if wants(lease, "request") else None
        value = await call(
            lease, inputs=handed, data=decode(lock.data), responses=responses, request=request
        )
        return encode(value)

    async def reject(
        self,
        lock_id: str,
        actor: str | None,
        comment: str | None = None,
        *,
        workspace: Workspace | None = None,
        request: str | None = None,
    ) -> Decision:
        """As ``Engine.reject`` says."""
        comment = clean(comment).strip() or None if comment else None
        found = await self._answerable(lock_id, actor, "reject", workspace)
        if isinstance(found, Decision):
            return found
        lock, _ = found
        if not any(isinstance(e, dict) and e.get("type") == "cancel" for e in lock.form or []):
            errors = {GLOBAL: [NO_REJECT]}  # a made-up click, or an API client guessing
            await self.guard.record(
                lock, NewEvent(kind="invalid", actor=actor, detail={"errors": errors})
            )
            return Decision(Answer.INVALID, lock, errors=errors)
        if comment is not None and len(comment) > MAX_TEXT:
            errors = {"comment": [TOO_LONG.format(limit=MAX_TEXT, used=len(comment))]}
            said = {"errors": errors, "comment": comment[:MAX_TEXT]}
            await self.guard.record(lock, NewEvent(kind="invalid", actor=actor, detail=said))
            return Decision(Answer.INVALID, lock, errors=errors)
        policy = Policy.from_json(lock.policy)
        if policy.quorum > 1 and not policy.veto:
            return await self._decline(lock, actor, comment, request)
        detail = ({"comment": comment} if comment else {}) | _named(request)
        return await self._decide(
            lock, "rejected", None, actor, comment, "rejected", detail or None
        )

    async def _answerable(
        self, lock_id: str, actor: str | None, action: str, workspace: Workspace | None
    ) -> tuple[Call, Execution] | Decision:
        """The lock and its run, if ``actor`` may answer the lock now; else the ``Decision``
        saying why not (a refusal is recorded)."""
        found = await self.guard.lock_and_run(lock_id, workspace)
        if found is None:
            return Decision(Answer.GONE, None)
        lock, execution = found
        if not lock.open:
            return Decision(Answer.DECIDED, lock)
        if refused := await self.guard.may_decide(lock, actor, action, execution):
            return Decision(Answer.FORBIDDEN, lock, allowed=refused.allowed)
        return found

    async def _decide(
        self,
        lock: Call,
        status: str,
        result: Any,
        actor: str | None,
        comment: str | None,
        kind: str,
        detail: Any,
        votes: int | None = None,
    ) -> Decision:
        """Close ``lock`` (compare-and-set), record ``kind`` in the audit trail and wake the run.
        ``votes``: only while the lock has that many responses (a quorum's, as counted)."""
        now = self.clock.now()
        event = NewEvent(kind=kind, actor=actor, call_id=lock.id, detail=detail)
        decided_here = await self.store.decide(
            lock.id, now, status=status, result=result, actor=actor, comment=comment, event=event,
            claim=self.runs.setup.claim(), votes=votes,
        )  # fmt: skip
        if decided_here is None:
            return Decision(Answer.DECIDED, await self.guard.lock(lock.id))
        execution, recorded = decided_here
        waited = now - lock.created_at
        log.info("lock %r %s by %s after %.0f s", lock.name, status, actor, waited,
                 extra=ids(lock.execution_id, lock.id))  # fmt: skip
        self.observer.lock_decided(execution.flow, status, waited)
        change = {"status": status, "result": result, "actor": actor, "comment": comment}
        decided = lock.model_copy(update=change | {"decided_at": now})
        self.changed(lock.execution_id, woken=recorded is not None)
        self.runs.wake(lock.execution_id, execution, recorded)
        return Decision(Answer.ACCEPTED if status == "resolved" else Answer.REJECTED, decided)

    async def _approve(
        self,
        lock: Call,
        execution: Execution,
        policy: Policy,
        actor: str | None,
        detail: Any,
        result: Any,
        lease: Callable[[list[Response]], Awaitable[Any]],
        mine: Response,
        earlier: tuple[Response, ...],
    ) -> Decision:
        """Count an approval of a quorum lock; decide it once ``policy.quorum`` distinct people
        have approved. ``result`` is the lease's value given ``earlier`` and ``mine``; when
        others answered meanwhile, the lease is asked again with every response counted."""
        event = NewEvent(kind="approved", actor=actor, call_id=lock.id, detail=detail)
        voted = await self.store.vote(lock.id, self.clock.now(), event)
        if voted is None:
            return Decision(Answer.DECIDED, await self.guard.lock(lock.id))
        recorded, events = voted
        so_far = tuple(quorum.response(e) for e in events)
        if not recorded:
            if not await self._met(so_far, policy, execution):
                return Decision(Answer.REPEAT, lock, responses=so_far)
            # A quorum met and not decided: the process that counted the last approval died
            # before deciding (two transactions). Decided now, with their answer as recorded.
            mine = next((r for r in reversed(so_far) if r.user == actor), mine)
        return await self._count(
            lock, execution, policy, actor, result, lease, mine, (*earlier, mine), so_far
        )

    async def _count(
        self,
        lock: Call,
        execution: Execution,
        policy: Policy,
        actor: str | None,
        result: Any,
        lease: Callable[[list[Response]], Awaitable[Any]],
        mine: Response,
        seen: tuple[Response, ...],
        so_far: tuple[Response, ...],
    ) -> Decision:
        """Decide a quorum lock with ``actor``'s approval (``mine``) counted, once its
        responses (``so_far``) meet the quorum; ``result`` is the lease's value given ``seen``."""
        while True:  # until the lock is decided with every response counted, or by another
            people = approvers(so_far)
            if len(await access.people(people, execution, self.guard.directory)) < policy.quorum:
                self.changed(lock.execution_id)
                return Decision(Answer.COUNTED, lock, responses=so_far)
            if _who(so_far) != _who(seen):  # answers landed while the lease ran
                counted = [mine if r.user == actor and r.approved else r for r in so_far]
                try:
                    result = await lease(standing(counted))
                except Exception:  # it took this answer a moment ago: keep what it said then
                    log.exception("lease %r failed on the responses counted", lock.name,
                                  extra=ids(lock.execution_id, lock.id))  # fmt: skip
                seen = so_far
            decided = await self._decide(
                lock, "resolved", result, actor, None, "quorum", {"approvers": people},
                votes=len(so_far),
            )  # fmt: skip
            if decided.outcome != Answer.DECIDED or decided.lock is None or not decided.lock.open:
                return Decision(decided.outcome, decided.lock, responses=so_far)
            # still open: responses landed since they were counted; count them too
            so_far = tuple(quorum.response(e) for e in await self.store.votes(lock))

    async def settle(self, before: float) -> int:
        """Decide each quorum lock met by responses all recorded before ``before`` and still
        open: the process that counted its last approval died before deciding it (the vote
        and the decision are two transactions). Decided as that approval's click would have
        been, with every answer as recorded; returns how many."""
        settled = 0
        for lock in await self.store.stalled_quorums(before):
            try:
                settled += await self._settle(lock)
            except Exception:  # the directory failing, say: the next sweep tries again
                log.exception("quorum lock %r not settled", lock.name,
                              extra=ids(lock.execution_id, lock.id))  # fmt: skip
        return settled

    async def _settle(self, lock: Call) -> bool:
        execution = await self.store.execution(lock.execution_id)
        policy = Policy.from_json(lock.policy)
        so_far = await quorum.responses(self.store, lock)
        if len(approvers(so_far)) < policy.quorum:  # short whoever they are: ask no directory
            return False
        if execution is None or not await self._met(so_far, policy, execution):
            return False
        last = next(r for r in reversed(so_far) if r.approved)
        form, values = Model.from_json(lock.form), dict(last.inputs)
        lease = partial(self._lease, lock, execution, form, values, values, last.user)
        result = await lease(standing(list(so_far)))
        decided = await self._count(
            lock, execution, policy, last.user, result, lease, last, so_far, so_far
        )  # no vote recorded for them: they may have declined since
        return decided.outcome == Answer.ACCEPTED

    async def _decline(
        self, lock: Call, actor: str | None, comment: str | None, request: str | None
    ) -> Decision:
        """A rejection of a quorum lock without veto: recorded, and the lock waits on."""
        detail = ({"comment": comment} if comment else {}) | _named(request)
        event = NewEvent(kind="declined", actor=actor, call_id=lock.id, detail=detail or None)
        voted = await self.store.vote(lock.id, self.clock.now(), event)
        if voted is None:
            return Decision(Answer.DECIDED, await self.guard.lock(lock.id))
        so_far = tuple(quorum.response(e) for e in voted[1])
        self.changed(lock.execution_id)
        return Decision(Answer.COUNTED, lock, responses=so_far)


def _named(request: str | None) -> dict[str, str]:
    """What an answer's event records of the request that made it (see ``Engine.submit``)."""
    return {"request": request} if request else {}


def _who(responses: tuple[Response, ...]) -> list[tuple[str | None, bool]]:
    return [(r.user, r.approved) for r in responses]


def _request(execution: Execution, actor: str | None) -> Request:
    """The run's request, as the person answering one of its locks makes it."""
    return Request(execution.flow, actor, execution.context)


def _shown(form: Model, values: Mapping[str, Any]) -> dict[str, Any]:
    """What a refused answer's message shows again: the values typed, but for passwords."""
    secret = {e.name for e in form.inputs if e.type == "password"}
    loose = _loose({k: v for k, v in values.items() if k not in secret})
    return loose if isinstance(loose, dict) else {}


def _loose(values: Mapping[str, Any]) -> Any:
    """Raw submitted values for the audit trail and a refused answer's message, each text cut
    to ``MAX_TEXT``; anything odd is kept as its repr."""
    try:
        return encode(_cut(dict(values)))
    except NotStorable:
        return {k: repr(v)[:MAX_TEXT] for k, v in values.items()}


def _cut(value: Any) -> Any:
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut(v) for v in value]
    return value
