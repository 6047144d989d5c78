"""The CLI's commands against a running bot's API (``LOCKSTEP_URL``, ``LOCKSTEP_TOKEN``):
start (and wait), status, answer, cancel. Waiting follows the run's event stream, and picks it
up again after a dropped connection with ``Last-Event-ID``, so no event is missed or doubled."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

# exit statuses: a pipeline step gates on them
OK, REFUSED, TIMED_OUT, ERROR = 0, 1, 2, 3
GOOD_ENDINGS = ("approved", "finished")
RECONNECT = 1.0  # seconds before picking a dropped stream up again


class CliError(Exception):
    """Something the person must fix (a refusal, a bad setting): one line, exit status 3."""


@dataclass(frozen=True)
class Remote:
    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def call(
    http: aiohttp.ClientSession,
    remote: Remote,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    try:
        async with http.request(
            method, remote.url + path, json=body, headers={**remote.headers, **(headers or {})}
        ) as response:
            text = await response.text()
            found = json.loads(text) if response.content_type == "application/json" else text
            return response.status, found
    except aiohttp.ClientError as exc:
        raise CliError(f"cannot reach {remote.url}: {exc}") from None
    except TimeoutError:
        raise CliError(f"{remote.url} did not answer in time") from None
    except ValueError:  # JSON that does not parse, or text that is not what it says
        raise CliError(f"{remote.url} answered what is not JSON ({method} {path})") from None


def problem(status: int, body: Any) -> CliError:
    """A refusal as one line; a 422's errors field by field."""
    if isinstance(body, dict) and isinstance(body.get("errors"), dict):
        lines = [f"{k}: {'; '.join(v)}" for k, v in body["errors"].items() if v]
        return CliError(f"refused ({status}): " + "; ".join(lines))
    if isinstance(body, dict) and "message" in body:
        return CliError(f"refused ({status}): {body['message']}")
    return CliError(f"refused ({status}): {str(body)[:200]}")


def pairs(words: list[str]) -> dict[str, str]:
    values = {}
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise CliError(f"cannot read {word!r}: write inputs as key=value")
        values[key] = value
    return values


async def start(
    http: aiohttp.ClientSession,
    remote: Remote,
    flow: str,
    inputs: dict[str, str],
    channel: str | None,
    key: str | None,
) -> dict[str, Any]:
    body = {"flow": flow, "inputs": inputs, "channel": channel}
    status, run = await call(
        http, remote, "POST", "/api/v1/runs", body, {"Idempotency-Key": key} if key else None
    )
    if status not in (200, 201):
        raise problem(status, run)
    return dict(run)


async def events(
    http: aiohttp.ClientSession, remote: Remote, run_id: str, after: str | None
) -> AsyncIterator[tuple[str | None, str, str]]:
    """One connection's events, ``(id, event, data)``."""
    headers = dict(remote.headers)
    if after is not None:
        headers["Last-Event-ID"] = after
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with http.get(
        f"{remote.url}/api/v1/runs/{run_id}/events", headers=headers, timeout=timeout
    ) as response:
        if response.status != 200:
            raise problem(response.status, await _body(response))
        ident: str | None = None
        kind, data = "message", list[str]()
        async for raw in response.content:
            line = raw.decode(errors="replace").rstrip("\r\n")
            if not line:
                if data:
                    yield ident, kind, "\n".join(data)
                ident, kind, data = None, "message", []
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id":
                    ident = value
                elif name == "event":
                    kind = value
                elif name == "data":
                    data.append(value)


def _json(data: str) -> Any:
    """An event's data: JSON, or the bot (or a proxy before it) sent what it should not."""
    try:
        found = json.loads(data)
    except ValueError:
        raise CliError(f"the event stream sent what is not JSON: {data[:100]!r}") from None
    if not isinstance(found, dict):
        raise CliError(f"the event stream sent what is not an event: {data[:100]!r}")
    return found


async def _body(response: aiohttp.ClientResponse) -> Any:
    text = await response.text()
    try:
        return json.loads(text)
    except ValueError:
        return text


async def wait(
    http: aiohttp.ClientSession,
    remote: Remote,
    run_id: str,
    timeout: float,
    say: Any = None,
) -> dict[str, Any] | None:
    """Follow the run's events until it ends: the run as it ended, or None at ``timeout``.
    ``say`` is told each event (``(event, data)``)."""

    async def follow() -> dict[str, Any]:
        last: str | None = None
        while True:
            try:
                async for ident, kind, data in events(http, remote, run_id, last):
                    if kind == "end":
                        return dict(_json(data))
                    last = ident or last
                    if say is not None:
                        say(kind, _json(data))
            except (aiohttp.ClientError, asyncio.IncompleteReadError):
                pass  # dropped: pick it up again after the last event seen
            await asyncio.sleep(RECONNECT)

    try:
        return await asyncio.wait_for(follow(), timeout)
    except TimeoutError:
        return None


def ending_status(run: dict[str, Any]) -> int:
    return OK if run.get("outcome") in GOOD_ENDINGS else REFUSED


def describe(run: dict[str, Any]) -> str:
    words = [f"run {run['id']}", f"{run['flow']}", str(run.get("outcome") or run["status"])]
    if run.get("error"):
        words.append(f"({run['error']})")
    for lock in run.get("locks") or []:
        words.append(f"waiting on {lock['name']} (lock {lock['id']})")
    return " · ".join(words)


def narrate(kind: str, event: dict[str, Any]) -> None:
    """An event of a waited-on run, as one line on stderr."""
    who = f" by {event['actor']}" if event.get("actor") else ""
    what = f" {event['lock']}" if event.get("lock") else ""
    print(f"{time.strftime('%H:%M:%S')} {kind}{what}{who}", file=sys.stderr, flush=True)
