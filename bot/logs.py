"""Logs: one line per record, as text or as JSON (``LOG_FORMAT``), at ``LOG_LEVEL``, each naming
the workspace (``team``), the run and the lock it is about whenever the work under way knows
them (a Slack request sets the team and the clicked lock; the engine sets the run).

Never in a log: a secret, or what a person typed. Every secret setting's value is scrubbed
from every line, tracebacks included. Lockstep's own lines name ids, never values, and the
libraries that log whole request and response bodies at DEBUG (slack_sdk, slack_bolt) are held
at INFO or above whatever ``LOG_LEVEL`` says: ``DEBUG`` is for Lockstep's own lines. APScheduler's
two lines per job (a sweep every few seconds) are held at WARNING, and of Alembic's only the
steps it runs are kept (not its "Context impl" preamble, twice at every start).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot import inbound
from flows.engine import current_scope, mark_scope

TEAM: ContextVar[str | None] = ContextVar("lockstep_team", default=None)
OWN = "lockstep"  # Lockstep's own loggers; LOG_LEVEL is theirs
QUIET = {"apscheduler": logging.WARNING, "sqlalchemy": logging.WARNING, "asyncpg": logging.WARNING,
         # slack_sdk formats every Web API call's arguments and answer into a DEBUG line (which
         # the root level then drops) unless its client's own logger has a level above DEBUG
         "slack_sdk.web.async_base_client": logging.INFO}  # fmt: skip
REDACTED = "[redacted]"
SLACK_TOKEN = re.compile(r"\bxox[abeoprs](?:\.xox[a-z])?-[A-Za-z0-9-]+")
_FIELDS = ("team", "run", "lock")


class Scope(logging.Filter):
    """Adds ``team``, ``run`` and ``lock`` to every record, from the work under way unless the
    line gave them (``extra=``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        run, lock = current_scope()
        found = {"team": TEAM.get(), "run": run, "lock": lock}
        for name in _FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, found[name])
        return True


class Chatter(logging.Filter):
    """Drops lines that say nothing at every start: Alembic's preamble, and Bolt's warning that
    the token it read from ``SLACK_BOT_TOKEN`` goes unused (the bot gives it a client, which
    holds that token)."""

    PREAMBLE = ("Context impl ", "Will assume ")
    UNUSED_TOKEN = "As you gave `client` as well, `token` will be unused."

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("slack_bolt"):
            return record.getMessage() != self.UNUSED_TOKEN
        if record.name != "alembic.runtime.migration":
            return True
        return not str(record.msg).startswith(self.PREAMBLE)


class Refusals:
    """Warns of refused requests, which anyone reaching the port can send: the first of each
    kind at once, then at most one line per ``every`` seconds, which says how many more of
    that kind were refused since the last line."""

    def __init__(
        self,
        logger: logging.Logger,
        every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.every, self.clock = logger, every, clock
        self._last: dict[str, tuple[float, int]] = {}  # per kind: when last said, how many since

    def warning(self, msg: str, *args: Any) -> None:
        now = self.clock()
        said, held = self._last.get(msg, (None, 0))
        if said is not None and now - said < self.every:
            self._last[msg] = (said, held + 1)
            return
        self._last[msg] = (now, 0)
        if held:
            msg, args = f"{msg} (and %d more since the last such line)", (*args, held)
        self.logger.warning(msg, *args)


HTTP = logging.getLogger(f"{OWN}.http")  # aiohttp's server logs here (``HttpLog``)
UNREADABLE = "refused a request: its body could not be read"


class HttpLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server log (``handler_args``). A request it could not read as HTTP (a request
    line or header too long, two ``Content-Length``) is the client's mistake, answered 400: a
    refusal (``Refusals``), not an error with aiohttp's traceback, which anyone reaching the
    port could fill the log with."""

    def __init__(self, refusals: Refusals) -> None:
        super().__init__(HTTP, {})
        self.refusals = refusals

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        exc = exc[1] if isinstance(exc, tuple) else exc
        if level > logging.DEBUG and isinstance(exc, HttpProcessingError) and exc.code < 500:
            self.refusals.warning("refused a malformed HTTP request: %s", exc.message)
            return
        if level > logging.DEBUG and isinstance(exc, RequestPayloadError):
            # a body it cannot read (a Content-Encoding it does not have), met as aiohttp reads
            # what a handler left unread: the answer went already
            self.refusals.warning(UNREADABLE)
            return
        super().log(level, msg, *args, **kwargs)


class _Scrubbed(logging.Formatter):
    def __init__(self, secrets: Sequence[str], fmt: str | None = None) -> None:
        super().__init__(fmt)
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return SLACK_TOKEN.sub(REDACTED, text)  # workspaces' tokens, installed after start-up


class TextFormatter(_Scrubbed):
    """``time LEVEL logger: message [team=… run=… lock=…]``, then any traceback."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__(secrets, "%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{n}={v}" for n in _FIELDS if (v := getattr(record, n, None)))
        if ids:
            head, newline, rest = line.partition("\n")
            line = f"{head} [{ids}]{newline}{rest}"
        return self.scrub(line)


class JsonFormatter(_Scrubbed):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    and ``team``, ``run``, ``lock``, ``exception`` when there are."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line: dict[str, Any] = {
            "time": at.replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= {n: v for n in _FIELDS if (v := getattr(record, n, None))}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return self.scrub(json.dumps(line, ensure_ascii=False, default=str))


def configure(
    level: str = "INFO",
    fmt: str = "text",
    secrets: Sequence[str] = (),
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Send every log line to ``stream`` (stderr), formatted as ``fmt`` says, scrubbed of
    ``secrets``. Replaces the root logger's handlers; returns the one it installed."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else TextFormatter(secrets))
    handler.addFilter(Chatter())
    handler.addFilter(Scope())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    own = logging.getLevelNamesMapping()[level]
    root.setLevel(max(own, logging.INFO))  # other libraries: never DEBUG (bodies, values)
    logging.getLogger(OWN).setLevel(own)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    return handler


class RequestScope(AsyncMiddleware):
    """Bolt middleware: the rest of this request's work (and the tasks it starts) logs its
    workspace and, for a click on a lock's message, the lock. Each request is a task of its
    own, so nothing carries over to the next."""

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        TEAM.set(req.context.team_id)
        event = req.context.get("inbound")
        if isinstance(event, inbound.ButtonClick):
            mark_scope(lock=event.lock_id)
        return await next()
