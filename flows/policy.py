"""A lock's service level, declared by the flow: deadline, reminders, escalation, what happens
at the deadline, and snoozing. Pure values and timer maths; the engine turns them into timers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, TypedDict, Unpack

OnTimeout = Literal["fail", "reject", "approve", "keep"]
ON_TIMEOUT: frozenset[str] = frozenset({"fail", "reject", "approve", "keep"})
MAX_REMINDERS = 50
DEFAULT_TIMEOUT = 3 * 3600.0  # kodosumi's: a lock waits three hours unless told otherwise
MAX_SECONDS = 100 * 365 * 86400.0  # a century: any longer, and a deadline is past what dates hold
Duration = float | int | timedelta


class LockOptions(TypedDict, total=False):
    """What ``tracer.lock`` (and every typed prompt) takes besides name, data and timeout.

    ``remind``: a duration (nudge that often) or a list (nudge that long before the deadline).
    ``escalate``: ``Escalation.of(after, to)``, or several. ``on_timeout``: ``"fail"`` (raise
    ``LockExpired``), ``"reject"`` (raise ``LockRejected``), ``("approve", value)`` (return
    ``value``) or ``"keep"`` (stay open, keep reminding). ``snooze``: people may push the
    deadline by this much from the lock message. ``approvers``: user ids, user groups (``S…``)
    or ``"channel"`` (default: anyone in the channel). ``exclude_initiator``: four-eyes.
    ``quorum``: that many distinct people must approve; a rejection ends the lock unless
    ``veto=False``."""

    remind: Duration | Sequence[Duration] | None
    escalate: Escalation | Sequence[Escalation] | None
    on_timeout: OnTimeout | tuple[OnTimeout, Any]
    snooze: Duration | None
    approvers: Sequence[str] | None
    exclude_initiator: bool
    quorum: int
    veto: bool


def seconds(value: Duration | None, what: str, default: float | None = None) -> float:
    """A positive number of seconds, at most ``MAX_SECONDS``. ``None`` means ``default`` (when
    there is one); zero, negative, non-finite, longer or non-numeric values are refused with a
    message naming ``what``."""
    if value is None:
        if default is None:
            raise ValueError(f"{what} needs a duration")
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | timedelta):
        raise TypeError(f"{what} must be seconds or a timedelta, not {type(value).__name__}")
    total = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not math.isfinite(total) or total <= 0:
        raise ValueError(
            f"{what} must be a positive number of seconds, got {value!r}"
            + (" (pass None for the default)" if default is not None else "")
        )
    if total > MAX_SECONDS:
        raise ValueError(f"{what} must be at most a century ({MAX_SECONDS:.0f} s), got {value!r}")
    return total


@dataclass(frozen=True)
class Escalation:
    """After ``after``, add ``to`` (user ids ``U…``/``W…`` or user groups ``S…``) to who may
    answer, and tell them."""

    after: float
    to: tuple[str, ...]

    @classmethod
    def of(cls, after: Duration, to: str | Iterable[str]) -> Escalation:
        people = (to,) if isinstance(to, str) else tuple(to)
        if not people or not all(isinstance(p, str) and p[:1] in "UWS" for p in people):
            raise ValueError("escalate to Slack user ids (U…/W…) or user groups (S…)")
        return cls(seconds(after, "escalate after"), people)


@dataclass(frozen=True)
class Policy:
    timeout: float
    remind_every: float | None = None
    remind_before: tuple[float, ...] = ()
    escalate: tuple[Escalation, ...] = ()
    on_timeout: OnTimeout = "fail"
    default: Any = None  # what an "approve" at the deadline answers
    snooze: float | None = None  # how much a person may add to the deadline, per click
    approvers: tuple[str, ...] = ()  # empty: anyone in the channel; escalations add to it
    exclude_initiator: bool = False  # four-eyes: whoever started the run may not decide
    quorum: int = 1  # distinct people who must approve
    veto: bool = True  # one rejection ends a quorum lock; False: it is recorded, and waits on

    def to_json(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            "remind_every": self.remind_every,
            "remind_before": list(self.remind_before),
            "escalate": [{"after": e.after, "to": list(e.to)} for e in self.escalate],
            "on_timeout": self.on_timeout,
            "default": self.default,
            "snooze": self.snooze,
            "approvers": list(self.approvers),
            "exclude_initiator": self.exclude_initiator,
            "quorum": self.quorum,
            "veto": self.veto,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any] | None) -> Policy:
        if not raw:
            return cls(timeout=DEFAULT_TIMEOUT)
        return cls(
            timeout=raw["timeout"],
            remind_every=raw.get("remind_every"),
            remind_before=tuple(raw.get("remind_before") or ()),
            escalate=tuple(
                Escalation(e["after"], tuple(e["to"])) for e in raw.get("escalate") or ()
            ),
            on_timeout=raw.get("on_timeout", "fail"),
            default=raw.get("default"),
            snooze=raw.get("snooze"),
            approvers=tuple(raw.get("approvers") or ()),
            exclude_initiator=bool(raw.get("exclude_initiator")),
            quorum=int(raw.get("quorum") or 1),
            veto=bool(raw.get("veto", True)),
        )


def make_policy(
    timeout: Duration | None,
    default_timeout: float = DEFAULT_TIMEOUT,
    **options: Unpack[LockOptions],
) -> Policy:
    """Read ``tracer.lock``'s options (see ``LockOptions``); a bad one is a ``ValueError`` or
    ``TypeError`` naming it. Unknown options are refused too."""
    unknown = options.keys() - LockOptions.__annotations__.keys()
    if unknown:
        raise TypeError(f"tracer.lock got unknown options: {', '.join(sorted(unknown))}")
    total = seconds(timeout, "timeout", default_timeout)
    remind = options.get("remind")
    escalate = options.get("escalate")
    on_timeout = options.get("on_timeout", "fail")
    snooze = options.get("snooze")
    approvers = options.get("approvers")
    every: float | None = None
    before: tuple[float, ...] = ()
    if isinstance(remind, list | tuple):
        before = tuple(sorted({seconds(r, "remind") for r in remind}, reverse=True))
    elif isinstance(remind, int | float | timedelta):
        every = seconds(remind, "remind")
    elif remind is not None:
        raise TypeError("remind must be a duration or a list of durations")
    default = None
    if isinstance(on_timeout, tuple):
        if len(on_timeout) != 2 or on_timeout[0] != "approve":
            raise ValueError('on_timeout with a value must be ("approve", value)')
        on_timeout, default = on_timeout
    if on_timeout not in ON_TIMEOUT:
        raise ValueError(f"on_timeout must be one of {sorted(ON_TIMEOUT)}, not {on_timeout!r}")
    escalations = (escalate,) if isinstance(escalate, Escalation) else tuple(escalate or ())
    who = check_approvers(approvers or ())
    return Policy(
        timeout=total,
        remind_every=every,
        remind_before=before,
        escalate=escalations,
        on_timeout=on_timeout,
        default=default,
        snooze=seconds(snooze, "snooze") if snooze is not None else None,
        approvers=who,
        exclude_initiator=bool(options.get("exclude_initiator", False)),
        quorum=check_quorum(options.get("quorum", 1), who),
        veto=bool(options.get("veto", True)),
    )


def check_approvers(approvers: Sequence[str] | str, what: str = "approvers") -> tuple[str, ...]:
    """User ids (``U…``/``W…``), user groups (``S…``) or ``"channel"``."""
    if isinstance(approvers, str):
        raise TypeError(f'{what} must be a list, e.g. ["U012ABC", "S0REVIEW", "channel"]')
    for who in approvers:
        if not isinstance(who, str) or not (who == "channel" or who[:1] in ("U", "W", "S")):
            raise ValueError(f"{what}: {who!r} is not a user id, a user group or 'channel'")
    return tuple(approvers)


def check_quorum(quorum: int, approvers: tuple[str, ...]) -> int:
    """A positive whole number, and no more than the named people when only people are named."""
    if isinstance(quorum, bool) or not isinstance(quorum, int) or quorum < 1:
        raise ValueError(f"quorum must be a whole number of people, 1 or more, not {quorum!r}")
    people = {a for a in approvers if a[:1] in ("U", "W")}
    if approvers and len(people) == len(approvers) and len(people) < quorum:
        raise ValueError(f"quorum={quorum} needs {quorum} approvers, but only {len(people)} named")
    return quorum


def reminder_times(policy: Policy, opened: float, deadline: float) -> list[float]:
    """When to nudge, strictly between opening and the deadline, earliest first (capped)."""
    times: set[float] = {deadline - b for b in policy.remind_before if deadline - b > opened}
    if policy.remind_every:
        at = opened + policy.remind_every
        while at < deadline and len(times) < MAX_REMINDERS:
            times.add(at)
            at += policy.remind_every
    return sorted(times)[:MAX_REMINDERS]


def series_goes_on(policy: Policy, last: float, deadline: float) -> bool:
    """Whether a ``remind_every`` series cut at ``MAX_REMINDERS`` has more before the deadline
    after ``last``: the last reminder planned then plans the next ones when it fires."""
    return bool(policy.remind_every) and last + (policy.remind_every or 0) < deadline


def more_reminders(policy: Policy, last: float, now: float, deadline: float) -> list[float]:
    """The next reminders of a series after ``last`` (the one firing), from ``now`` on: still
    every ``remind_every`` from the lock's opening, before the deadline (capped)."""
    every = policy.remind_every
    if not every:
        return []
    at = last + every * max(1, math.floor((now - last) / every) + 1)
    times: list[float] = []
    while at < deadline and len(times) < MAX_REMINDERS:
        times.append(at)
        at += every
    return times


def next_overdue_reminder(policy: Policy, now: float) -> float:
    """A ``keep`` lock past its deadline keeps being reminded: every ``remind_every``, or
    every ``timeout`` when no interval was given."""
    return now + (policy.remind_every or policy.timeout)


def humanize(duration: float) -> str:
    """``7200`` -> ``2 h``; ``90`` -> ``1 min``; ``172800`` -> ``2 days``."""
    duration = max(0.0, duration)
    for size, unit in ((86400, " days"), (3600, " h"), (60, " min")):
        if duration >= size:
            amount = round(duration / size)
            return f"{amount}{unit[:-1] if unit == ' days' and amount == 1 else unit}"
    return f"{round(duration)} s"
