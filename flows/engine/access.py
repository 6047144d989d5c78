"""Who may answer a lock, and who may manage a run. Checked on every answer, rejection, snooze
and cancel, not only when a form is shown. Names other than a user's own id (user groups, the
run's channel) are resolved by the ``Directory``; the engine knows no id formats."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flows.engine.ports import Directory
from flows.engine.records import Execution, Workspace
from flows.policy import Policy


class NoDirectory:
    """Knows no groups or channels: only people named by their own id are anyone, and a lock
    without approvers is anyone's."""

    async def includes(self, principal: str, user: str, context: Mapping[str, Any]) -> bool:
        return False

    async def sees(self, user: str, context: Mapping[str, Any]) -> bool:
        return True

    async def person(self, user: str, context: Mapping[str, Any]) -> str:
        return user


def within(execution: Execution, workspace: Workspace | None) -> bool:
    """The one rule between workspaces: a run (with its locks, timers and audit trail) is
    seen, answered, cancelled or read only from its own workspace; from any other it does not
    exist. ``None`` is Lockstep itself (timers, recovery, code), which sees every workspace."""
    return workspace is None or execution.workspace == workspace


def seen_from(execution: Execution) -> Mapping[str, Any]:
    """What the directory is told of a run: its context (its surface's ids), and the
    ``workspace`` it belongs to (whose groups and channels the names mean)."""
    return {**execution.context, "workspace": execution.workspace}


@dataclass(frozen=True)
class Refusal:
    """Why someone may not act: ``allowed`` may (empty: anyone but the run's initiator)."""

    allowed: tuple[str, ...]


async def among(
    people: tuple[str, ...], actor: str | None, execution: Execution, directory: Directory
) -> bool:
    """Is ``actor`` one of ``people``, or in a group or channel one of them names?"""
    if actor is None:
        return False
    if actor in people:
        return True
    for principal in people:
        if await directory.includes(principal, actor, seen_from(execution)):
            return True
    return False


async def may_decide(
    policy: Policy,
    execution: Execution,
    escalated: Callable[[], Awaitable[list[str]]],
    actor: str | None,
    directory: Directory,
) -> Refusal | None:
    """None if ``actor`` may decide a lock with this policy, else why not. Without
    ``approvers`` a lock is for the people who see the run (its channel's members); with or
    without, for anyone it was escalated to (``escalated`` reads who, when it matters). Four-eyes
    (``exclude_initiator``) keeps out whoever started the run even when they are one of those:
    they are told that, not that only the people they are among may decide."""
    if policy.approvers:
        allowed = _once(*policy.approvers, *await escalated())
        if not await among(allowed, actor, execution, directory):
            return Refusal(allowed)
    elif actor is not None and not await directory.sees(actor, seen_from(execution)):
        added = _once(*await escalated())
        if not await among(added, actor, execution, directory):
            return Refusal(_once("channel", *added))
    if policy.exclude_initiator and await _is_initiator(actor, execution, directory):
        return Refusal(())
    return None


def _once(*names: str) -> tuple[str, ...]:
    """``names`` each once, first come first (an approver escalated to as well is one)."""
    return tuple(dict.fromkeys(names))


async def _is_initiator(actor: str | None, execution: Execution, directory: Directory) -> bool:
    """Four-eyes: is ``actor`` whoever started the run, or someone the directory says stands
    for them (an API token that answers on their behalf)?"""
    if actor is None or execution.initiator is None:
        return False
    if actor == execution.initiator:
        return True
    return await directory.includes(execution.initiator, actor, seen_from(execution))


async def people(approvers: list[str], execution: Execution, directory: Directory) -> list[str]:
    """The different people among ``approvers`` (first come first, each once): a token
    answering for one person and that person are one (``Directory.person``)."""
    found: list[str] = []
    for approver in approvers:
        person = await directory.person(approver, seen_from(execution))
        if person not in found:
            found.append(person)
    return found


async def manages(
    admins: tuple[str, ...], actor: str | None, execution: Execution, directory: Directory
) -> bool:
    """May ``actor`` cancel the run and snooze its locks: its initiator, or a flow admin?"""
    if actor is not None and actor == execution.initiator:
        return True
    return await among(admins, actor, execution, directory)
