"""Errors a flow author raises or catches, under one base, ``LockstepError``. Names and wire
form follow kodosumi (``KodosumiError``, ``InputsError``)."""

from __future__ import annotations

from typing import Any

from flows.when import stamp

GLOBAL = "_global_"


class LockstepError(Exception):
    """The base of every error Lockstep raises."""


class KodosumiError(LockstepError):
    """kodosumi's base error, kept for code that catches it."""


class InputsError(KodosumiError):
    """Form errors, per field and global, with kodosumi's behaviour.

    Raised by enter and lease handlers (and by the server-side parser) to keep a form open and
    show the person what to fix. ``InputsError("msg", field="msg")``: positional messages are
    the exception's ``args`` and are shown as global messages; keywords go to their fields.
    ``add(**fields)`` appends per field, ``flash(msg)`` appends a global message. As in
    kodosumi, ``has_errors()`` (and truth) counts field and flashed messages, not positional
    ones, so ``if error.has_errors(): raise error`` raises only for what was added. Wire form:
    ``{"field": ["msg", ...], "_global_": [flashed..., positional...]}``, ``_global_`` always
    present.
    """

    def __init__(self, *args: Any, **field_msgs: Any) -> None:
        super().__init__(*args)
        self.errors: dict[str, list[str]] = {}
        self.add(**field_msgs)

    def add(self, **field_msgs: Any) -> InputsError:
        """Append messages per field; a list (tuple, set) adds each of its messages; anything
        else (an exception caught, a number) is one message, as its text."""
        for name, msgs in field_msgs.items():
            items = list(msgs) if isinstance(msgs, list | tuple | set | frozenset) else [msgs]
            if items:
                self.errors.setdefault(name, []).extend(str(m) for m in items)
        return self

    def flash(self, *msgs: str) -> InputsError:
        """Append global messages (shown for the form as a whole)."""
        if msgs:
            self.errors.setdefault(GLOBAL, []).extend(str(m) for m in msgs)
        return self

    def has_errors(self) -> bool:
        return bool(self.errors)

    def __bool__(self) -> bool:
        return self.has_errors()

    def wire(self) -> dict[str, list[str]]:
        """The kodosumi wire form: fields with messages, plus ``_global_`` always present
        (flashed messages first, then the positional ones)."""
        out = {k: list(v) for k, v in self.errors.items()}
        out[GLOBAL] = out.get(GLOBAL, []) + [str(a) for a in self.args]
        return out

    @classmethod
    def from_wire(cls, errors: dict[str, list[str]]) -> InputsError:
        err = cls().flash(*errors.get(GLOBAL, []))
        return err.add(**{k: v for k, v in errors.items() if k != GLOBAL})

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


class FlowExited(LockstepError, RuntimeError):
    """A flow or handler called ``sys.exit()`` (raised ``SystemExit``): it fails, as any
    exception fails it, and the bot, whose event loop it runs on, goes on."""

    def __init__(self, code: object) -> None:
        self.code = code
        super().__init__(f"sys.exit({code!r}) called" if code is not None else "sys.exit() called")


class NotStorable(LockstepError, TypeError):
    """A value a flow hands the engine (inputs, data, a step's or lease's result) is not JSON-like
    and cannot be recorded."""


def described(exc: BaseException) -> str:
    """An exception as the store and people read it: ``Type: message``, the type alone when it
    has no message, or when reading its message fails (a flow's own ``__str__`` may raise)."""
    try:
        said = str(exc)
    except Exception:
        return f"{type(exc).__name__} (its message could not be read)"
    return f"{type(exc).__name__}: {said}" if said else type(exc).__name__
