"""The shipped example flows show good practice: nobody approves their own expense or deploy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from flows import Request
from flows.engine import Answer, Engine, FakeClock, RecordingNotifier
from flows.examples import deploy, expense, review
from store import SQLStore


@pytest.fixture
async def engine(store: SQLStore) -> AsyncIterator[Engine]:
    running = Engine(store, [review.app, deploy.app, expense.app], RecordingNotifier(), FakeClock())
    yield running
    await running.close()


async def start(engine: Engine, flow: str, inputs: dict[str, str]) -> str:
    eid = await engine.start(flow, inputs, Request(flow, "UALICE", {"channel": "C1"}))
    await engine.settled(eid)
    return eid


async def test_an_expense_is_approved_by_someone_else_never_by_who_filed_it(
    engine: Engine, store: SQLStore
) -> None:
    filed = {"amount": "120", "category": "meals", "description": "Team lunch"}
    eid = await start(engine, "expense", filed)
    [lock] = await store.calls(eid, open_only=True)
    own = await engine.submit(lock.id, {"approved_amount": "120"}, "UALICE")
    assert own.outcome is Answer.FORBIDDEN and own.allowed == ()  # four-eyes
    assert (await engine.reject(lock.id, "UALICE")).outcome is Answer.FORBIDDEN
    too_much = await engine.submit(lock.id, {"approved_amount": "500"}, "UBOB")
    assert too_much.errors["approved_amount"] == ["You cannot approve more than was asked for."]
    assert (await engine.submit(lock.id, {"approved_amount": "100"}, "UBOB")).outcome is (
        Answer.ACCEPTED
    )
    await engine.settled(eid)
    ended = await store.execution(eid)
    assert ended is not None and ended.result == {"amount": 120, "approved_amount": 100}


async def test_a_deploy_is_approved_by_someone_else(engine: Engine, store: SQLStore) -> None:
    eid = await start(engine, "deploy", {"service": "api", "version": "1.2.3"})
    [lock] = await store.calls(eid, open_only=True)
    assert (await engine.submit(lock.id, {}, "UALICE")).outcome is Answer.FORBIDDEN
    assert (await engine.reject(lock.id, "UBOB", "not today")).outcome is Answer.REJECTED
    await engine.settled(eid)
    ended = await store.execution(eid)
    assert ended is not None and (ended.status, ended.result) == ("finished", {"deployed": False})
