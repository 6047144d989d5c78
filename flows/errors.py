"""Errors a flow author raises or catches, under one base, ``LockstepError``. Names and wire
form follow kodosumi (``KodosumiError``, ``InputsError``)."""

from __future__ import annotations

from flows.when import stamp

GLOBAL = "_global_"


class LockstepError(Exception):
    """The base of every error Lockstep raises."""


class KodosumiError(LockstepError):
    """kodosumi's base error, kept for code that catches it."""


class InputsError(KodosumiError):
    """Form errors, per field and global.

    Raised by enter and lease handlers (and by the server-side parser) to keep a form open and
    show the person what to fix. Wire form: ``{"field": ["msg", ...], "_global_": [...]}``.
    """

    def __init__(self, *global_msgs: str, **field_msgs: str | list[str]) -> None:
        self.errors: dict[str, list[str]] = {GLOBAL: []}
        self.flash(*global_msgs)
        self.add(**field_msgs)
        super().__init__()

    def add(self, **field_msgs: str | list[str]) -> InputsError:
        for field, msgs in field_msgs.items():
            items = [msgs] if isinstance(msgs, str) else list(msgs)
            self.errors.setdefault(field, []).extend(items)
        return self

    def flash(self, *msgs: str) -> InputsError:
        self.errors[GLOBAL].extend(msgs)
        return self

    def has_errors(self) -> bool:
        return any(self.errors.values())

    def __bool__(self) -> bool:
        return self.has_errors()

    def wire(self) -> dict[str, list[str]]:
        """The kodosumi wire form: fields with messages, plus ``_global_`` always present."""
        out = {k: list(v) for k, v in self.errors.items() if v and k != GLOBAL}
        out[GLOBAL] = list(self.errors[GLOBAL])
        return out

    @classmethod
    def from_wire(cls, errors: dict[str, list[str]]) -> InputsError:
        err = cls(*errors.get(GLOBAL, []))
        err.add(**{k: v for k, v in errors.items() if k != GLOBAL})
        return err

    def __str__(self) -> str:
        parts = [f"{k}: {'; '.join(v)}" for k, v in self.wire().items() if v]
        return ", ".join(parts) or "invalid inputs"


class LockRejected(LockstepError):
    """A person answered a lock with Cancel/Reject. Uncaught, the execution ends as cancelled."""

    def __init__(self, lock: str, by: str | None, at: float | None, comment: str | None) -> None:
        self.lock, self.by, self.at, self.comment = lock, by, at, comment
        reason = f": {comment}" if comment else ""
        super().__init__(f"{lock} was rejected by {by or 'someone'} at {stamp(at)}{reason}")


class LockExpired(LockstepError, TimeoutError):
    """A lock's deadline passed with no answer. Uncaught, the execution ends as error."""

    def __init__(self, lock: str, at: float | None) -> None:
        self.lock, self.at = lock, at
        super().__init__(f"{lock} expired at {stamp(at)} with no answer")


class LockCancelled(LockstepError):
    """The execution was cancelled from outside while this lock was open."""

    def __init__(self, lock: str) -> None:
        self.lock = lock
        super().__init__(f"{lock} was cancelled with its execution")


class NonDeterminismError(LockstepError, RuntimeError):
    """A replay met a different call than the one recorded at the same position."""


class FlowConfigError(LockstepError, RuntimeError):
    """A flow is wired wrongly: unknown lock handler, unresolvable runner, bad registration."""


class StepFailed(LockstepError, RuntimeError):
    """A step raised when it first ran; replays raise this with the recorded message."""


class NotStorable(LockstepError, TypeError):
    """A value a flow hands the engine (inputs, data, a step's or lease's result) is not JSON-like
    and cannot be recorded."""
