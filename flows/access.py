"""Who may answer a lock. Checked on every answer, rejection and snooze, not only when a form
is shown. User groups and channels are resolved through a ``Directory`` (Slack's, in the bot)."""

from __future__ import annotations

from typing import Protocol

from flows.policy import Policy
from store.models import Execution


class Directory(Protocol):
    async def group_members(self, group: str) -> frozenset[str]:
        """User ids in a user group (``S…``)."""

    async def channel_members(self, channel: str) -> frozenset[str]:
        """User ids in a channel."""


class NoDirectory:
    """Knows no groups or channels: only approvers named by user id can answer."""

    async def group_members(self, group: str) -> frozenset[str]:
        return frozenset()

    async def channel_members(self, channel: str) -> frozenset[str]:
        return frozenset()


class Forbidden(PermissionError):
    """``actor`` may not decide this lock; ``allowed`` says who may (empty: not the initiator)."""

    def __init__(self, actor: str | None, allowed: tuple[str, ...], initiator: bool) -> None:
        self.actor, self.allowed, self.initiator = actor, allowed, initiator
        super().__init__(f"{actor} may not decide this lock")


async def check(
    policy: Policy,
    execution: Execution,
    escalated: list[str],
    actor: str | None,
    directory: Directory,
) -> None:
    """Raise ``Forbidden`` unless ``actor`` may decide a lock with this policy."""
    allowed = (*policy.approvers, *escalated) if policy.approvers else ()
    if policy.exclude_initiator and actor is not None and actor == execution.initiator:
        raise Forbidden(actor, allowed, initiator=True)
    if allowed and not await among(allowed, actor, execution, directory):
        raise Forbidden(actor, allowed, initiator=False)


async def among(
    people: tuple[str, ...], actor: str | None, execution: Execution, directory: Directory
) -> bool:
    """Is ``actor`` one of ``people`` (user ids, members of ``S…`` groups, or of the run's
    channel for ``"channel"``)?"""
    if actor is None:
        return False
    if actor in people:
        return True
    for who in people:
        if who.startswith("S") and actor in await directory.group_members(who):
            return True
        channel = execution.context.get("channel")
        if who == "channel" and isinstance(channel, str):
            if actor in await directory.channel_members(channel):
                return True
    return False


async def manages(
    admins: tuple[str, ...], actor: str | None, execution: Execution, directory: Directory
) -> bool:
    """May ``actor`` cancel the run and snooze its locks: its initiator, or a flow admin?"""
    if actor is not None and actor == execution.initiator:
        return True
    return await among(admins, actor, execution, directory)
