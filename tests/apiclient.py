"""A client of the running bot's HTTP API for tests: tokens made in its store, requests over
real HTTP, and every JSON answer checked against the OpenAPI document the bot serves (the
schema of that route, method and status), so a response that strays from the document fails
the test that got it."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from bot.api import Scopes, new_token
from tests.slackbot import Bot

DOC_URI = "urn:lockstep:openapi"


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Api:
    bot: Bot
    base: str
    checked: list[tuple[str, str, int]] = field(default_factory=list)
    _doc: dict[str, Any] | None = None

    @property
    def store(self) -> Any:
        assert self.bot.lockstep is not None
        return self.bot.lockstep.store

    async def token(
        self,
        name: str,
        *,
        start: tuple[str, ...] = (),
        read: tuple[str, ...] = (),
        answer: tuple[str, ...] = (),
    ) -> str:
        scopes = Scopes(start=start, read=read, answer=answer)
        secret, row = new_token(name, scopes, 1.0)
        assert await self.store.create_token(row) is not None
        return secret

    async def doc(self) -> dict[str, Any]:
        if self._doc is None:
            async with self.bot.http.get(self.base + "/api/v1/openapi.json") as response:
                assert response.status == 200
                self._doc = await response.json()
        return self._doc

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        check: bool = True,
        redirects: bool = True,
    ) -> Answer:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        async with self.bot.http.request(
            method,
            self.base + path,
            data=io.BytesIO(data) if data is not None else None,
            headers=sent,
            allow_redirects=redirects,
        ) as response:
            text = await response.text()
            found = json.loads(text) if response.content_type == "application/json" else text
            answer = Answer(response.status, found, dict(response.headers))
        if check:
            await self.check(method, path, answer)
        return answer

    async def check(self, method: str, path: str, answer: Answer) -> None:
        """The answer is what the document says this route answers with this status."""
        doc = await self.doc()
        template = _template(doc, path.split("?")[0])
        operation = doc["paths"][template][method.lower()]
        assert str(answer.status) in operation["responses"], (method, path, answer.status)
        spec = operation["responses"][str(answer.status)]
        content = spec.get("content", {})
        if "application/json" in content:
            schema = content["application/json"]["schema"]
            validate(doc, schema, answer.body)
        self.checked.append((method, template, answer.status))

    async def stream(
        self, path: str, token: str, last_event_id: str | None = None
    ) -> AsyncIterator[tuple[str | None, str, str]]:
        """Server-sent events as ``(id, event, data)``, until the server closes."""
        headers = {"Authorization": f"Bearer {token}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        async with self.bot.http.get(self.base + path, headers=headers) as response:
            assert response.status == 200, await response.text()
            assert response.content_type == "text/event-stream"
            async for event in read_events(response.content):
                yield event


async def read_events(content: aiohttp.StreamReader) -> AsyncIterator[tuple[str | None, str, str]]:
    ident: str | None = None
    kind, data = "message", []
    async for raw in content:
        line = raw.decode().rstrip("\n").rstrip("\r")
        if not line:
            if data:
                yield ident, kind, "\n".join(data)
            ident, kind, data = None, "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                ident = value
            elif name == "event":
                kind = value
            elif name == "data":
                data.append(value)


def _template(doc: dict[str, Any], path: str) -> str:
    for template in doc["paths"]:
        pattern = "^" + re.sub(r"\{([^}]+)\}", _param, template) + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"{path} is not in the OpenAPI document")


def _param(match: re.Match[str]) -> str:
    return ".*" if match[1] == "path" else "[^/]+"  # ``/-/{path}``: the rest of the URL


def validate(doc: dict[str, Any], schema: dict[str, Any], instance: Any) -> None:
    resource = Resource.from_contents(doc, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOC_URI, resource)
    rooted = json.loads(json.dumps(schema).replace('"#/', f'"{DOC_URI}#/'))
    Draft202012Validator(rooted, registry=registry).validate(instance)


def base_of(bot: Bot) -> str:
    return bot.url.removesuffix("/slack/events")
