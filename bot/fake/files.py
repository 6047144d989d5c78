"""Slack's files, for the fake Slack: ``files.getUploadURLExternal`` hands out an upload URL on
the fake's own port, the bytes are posted there, and ``files.completeUploadExternal`` shares the
file into a channel or thread (or a direct message), as ``files_upload_v2`` does it. Files a
person uploads through a modal's file input (``uploaded``) are described as Slack describes
them in ``state.values``, told about by ``files.info``, and downloaded from their private URL
with a bot token."""

from __future__ import annotations

import copy
from collections.abc import Callable

from aiohttp import web

from bot.fake.wire import Args, Refused, need

UPLOAD_PATH = "/upload/{fid}"
DOWNLOAD_PATH = "/files-pri/{fid}/{name}"


class FakeFiles:
    def __init__(self, new_id: Callable[[], str]) -> None:
        self.base_url = ""  # set once the fake listens
        self._new_id = new_id
        self._uploads: dict[str, Args] = {}  # file id -> file, once its bytes arrived
        self._shared: list[Args] = []  # files shared, in order
        self._people: dict[str, tuple[Args, bytes]] = {}  # files people uploaded, by id

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
            done |= {"thread_ts": args.get("thread_ts")}
            shared.append(done)
        self._shared.extend(shared)
        return {"files": [{k: f[k] for k in ("id", "name", "title")} for f in shared]}

    def uploaded(self, user: str, name: str, content: bytes, mimetype: str) -> Args:
        """A file ``user`` put into a file input: its description, as in ``state.values``."""
        file_id = self._new_id()
        url = self.base_url + DOWNLOAD_PATH.format(fid=file_id, name=name)
        file: Args = {"id": file_id, "created": 1_700_000_000, "timestamp": 1_700_000_000}
        file |= {"name": name, "title": name, "mimetype": mimetype, "filetype": "text"}
        file |= {"user": user, "size": len(content), "is_public": False}
        file |= {"url_private": url, "url_private_download": url + "?download=1"}
        self._people[file_id] = (file, content)
        return copy.deepcopy(file)

    def info(self, args: Args) -> Args:
        """``files.info``: what Slack knows of a file a person uploaded."""
        found = self._people.get(need(args, "file", "file_not_found"))
        if found is None:
            raise Refused("file_not_found")
        return {"file": copy.deepcopy(found[0])}

    async def download(self, request: web.Request) -> web.Response:
        """A private URL: the bytes for a bot token; Slack's sign-in page for anyone else."""
        found = self._people.get(request.match_info["fid"])
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer xoxb-"):
            return web.Response(
                text="<!DOCTYPE html><title>Sign in</title>", content_type="text/html"
            )
        if found is None:
            return web.Response(status=404, text="no such file")
        file, content = found
        return web.Response(body=content, content_type=file["mimetype"])
