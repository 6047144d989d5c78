"""A run's files in Slack: the engine's ``Files`` port (``tracer.fs()``).

Files people upload with an entry form (Slack's file input) are read back with the bot's
token (the run's workspace's): ``files.info`` says where the bytes are, and they are fetched
only from the Slack host the bot talks to (or its ``files.`` host), so the token never goes
anywhere else. Slack answers a request it does not authorise with a sign-in page, not an
error: an HTML answer, or one whose size is not the file's, is refused. Files a run uploads
are shared in its thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.workspaces import Workspaces
from flows.engine import SINGLE

MAX_BYTES = 100 * 1024 * 1024  # a Slack file input takes files up to 10 MB; shared ones more


class SlackFiles:
    def __init__(
        self, workspaces: Workspaces, session: aiohttp.ClientSession, api_url: str
    ) -> None:
        self.workspaces = workspaces
        self.session = session
        host = urlsplit(api_url).hostname or ""
        self._hosts = {host, "files." + host.removeprefix("www.")}

    async def _client(self, where: Mapping[str, Any]) -> AsyncWebClient:
        client = await self.workspaces.client(where.get("workspace") or SINGLE)
        if client is None:
            raise FileNotFoundError("the app is no longer installed in the run's workspace")
        return client

    async def read(self, file: Mapping[str, Any]) -> bytes:
        file_id = file.get("id")
        if not isinstance(file_id, str) or not file_id:
            raise FileNotFoundError(str(file.get("name") or "a file without an id"))
        client = await self._client(file)
        info = (await client.files_info(file=file_id))["file"]
        by = file.get("by")
        if isinstance(by, str) and by and info.get("user") != by:  # a file input holds the
            # sender's own uploads: another's file named in a made-up value is not read
            raise FileNotFoundError(f"{file.get('name')}: not uploaded by whoever sent the form")
        url = info.get("url_private_download") or info.get("url_private")
        if not isinstance(url, str) or urlsplit(url).hostname not in self._hosts:
            raise FileNotFoundError(f"{info.get('name')}: Slack gave no address to fetch it from")
        headers = {"Authorization": f"Bearer {client.token}"}
        async with self.session.get(url, headers=headers, allow_redirects=False) as answer:
            kind = answer.headers.get("Content-Type", "")
            if answer.status != 200 or kind.startswith("text/html"):
                raise FileNotFoundError(f"{info.get('name')}: Slack refused it ({answer.status})")
            content = await answer.content.read(MAX_BYTES + 1)
        size = info.get("size")
        if len(content) > MAX_BYTES or (isinstance(size, int) and size != len(content)):
            raise FileNotFoundError(f"{info.get('name')}: not the whole file arrived")
        return content

    async def write(self, context: Mapping[str, Any], name: str, content: bytes) -> dict[str, Any]:
        shown = context.get("thread")
        channel = shown.get("channel") if isinstance(shown, dict) else context.get("channel")
        thread = shown.get("ts") if isinstance(shown, dict) else None
        if not isinstance(channel, str):
            raise FileNotFoundError(f"{name}: the run has no channel to share it in")
        client = await self._client(context)
        shared = await client.files_upload_v2(
            channel=channel, thread_ts=thread, filename=name, content=content, title=name
        )
        first = (shared.get("files") or [{}])[0]
        return {"id": first.get("id"), "name": name, "size": len(content)}
