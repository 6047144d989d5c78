"""Slack's file uploads, for the fake Slack: ``files.getUploadURLExternal`` hands out an upload
URL on the fake's own port, the bytes are posted there, and ``files.completeUploadExternal``
shares the file into a channel (or a direct message), as ``files_upload_v2`` does it."""

from __future__ import annotations

import copy
from collections.abc import Callable

from aiohttp import web

from bot.fake.wire import Args, Refused, need

UPLOAD_PATH = "/upload/{fid}"


class FakeFiles:
    def __init__(self, new_id: Callable[[], str]) -> None:
        self.base_url = ""  # set once the fake listens
        self._new_id = new_id
        self._uploads: dict[str, Args] = {}  # file id -> file, once its bytes arrived
        self._shared: list[Args] = []  # files shared, in order

    def shared(self, channel: str | None = None) -> list[Args]:
        return [copy.deepcopy(f) for f in self._shared if channel in (None, f["channel"])]

    def upload_url(self, args: Args) -> Args:
        """Step 1: where to post the bytes."""
        name = need(args, "filename", "invalid_arguments")
        if not str(args.get("length", "")).isdigit():
            raise Refused("invalid_arguments")
        file_id = self._new_id()
        self._uploads[file_id] = {"id": file_id, "name": name}
        url = self.base_url + UPLOAD_PATH.format(fid=file_id)
        return {"upload_url": url, "file_id": file_id}

    async def receive(self, request: web.Request) -> web.Response:
        """Step 2: the bytes, posted to the URL step 1 gave."""
        upload = self._uploads.get(request.match_info["fid"])
        if upload is None or "content" in upload:
            return web.Response(status=404, text="no such upload")
        upload["content"] = (await request.read()).decode("utf-8", errors="replace")
        return web.Response(text="OK - " + str(len(upload["content"])))

    def complete(self, args: Args) -> Args:
        """Step 3: share the uploaded files (``channel_id``, ``initial_comment``)."""
        wanted = args.get("files")
        if not isinstance(wanted, list) or not wanted:
            raise Refused("invalid_arguments")
        shared = []
        for item in wanted:
            upload = self._uploads.get(item.get("id", "")) if isinstance(item, dict) else None
            if upload is None or "content" not in upload:
                raise Refused("file_not_found")
            done = upload | {"title": item.get("title") or upload["name"]}
            done |= {"channel": args.get("channel_id"), "comment": args.get("initial_comment")}
            shared.append(done)
        self._shared.extend(shared)
        return {"files": [{k: f[k] for k in ("id", "name", "title")} for f in shared]}
