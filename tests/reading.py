"""Reading a run back through the engine's front door, as tests need it."""

from __future__ import annotations

from flows.engine import Call, Engine, Event


async def calls(engine: Engine, execution_id: str) -> list[Call]:
    trail = await engine.trail(execution_id)
    assert trail is not None, f"no execution {execution_id}"
    return trail[1]


async def events(engine: Engine, execution_id: str) -> list[Event]:
    trail = await engine.trail(execution_id)
    assert trail is not None, f"no execution {execution_id}"
    return trail[2]
