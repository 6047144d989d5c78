"""A run's files, as kodosumi's ``tracer.fs()`` (async) and ``tracer.fs_sync()`` (for sync code
off the event loop): ``in`` holds the files people uploaded with the entry form, ``out`` the
files the run uploaded (Slack: shared in the run's thread).

Paths are ``"in"``, ``"out"``, or a file under one (``"in/report.pdf"``); another root is a
``ValueError``, a missing file ``FileNotFoundError``. ``upload`` is recorded like a step: a
replay does not upload again. Lockstep does not delete files: ``remove`` refuses.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Mapping,
)
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

from flows.app import Request
from flows.forms import InputFiles, Model

T = TypeVar("T")
ROOTS = ("in", "out")
UPLOAD_STEP = "fs.upload"


class FileStore(Protocol):
    """Where a run's files live, for the surface to implement (Slack: its files)."""

    async def read(self, file: Mapping[str, Any]) -> bytes:
        """The bytes of a file (as described in ``context["files"]`` or by ``write``; the
        runtime adds ``workspace``: the run's)."""

    async def write(self, context: Mapping[str, Any], name: str, content: bytes) -> dict[str, Any]:
        """Share a file where the run is (``context``: the run's surface ids, ``thread``:
        where its message is shown, if it is yet, and ``workspace``: the run's); returns its
        description, with at least ``name`` and ``size``."""


FILE_KEYS = ("id", "name", "size", "mimetype", "filetype", "created")


def with_uploads(request: Request, form: Model, raw: Mapping[str, Any]) -> Request:
    """``request`` with the files uploaded through ``form``'s file inputs as
    ``context["files"]`` (their descriptions, each with its ``field``, and ``by``: who sent
    the form, whose uploads they must be): what ``in`` holds."""
    found = []
    for element in form.inputs:
        value = raw.get(element.name) if isinstance(element, InputFiles) else None
        for item in value if isinstance(value, list) else []:
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                kept = {k: item[k] for k in FILE_KEYS if k in item}
                found.append(kept | {"field": element.name, "by": request.user})
    if not found:
        return request
    return replace(request, context={**request.context, "files": found})


def _root(path: str) -> tuple[str, str]:
    root, _, rest = path.strip().strip("/").partition("/")
    if root not in ROOTS:
        raise ValueError(f"invalid root {root!r}: use 'in' or 'out'")
    return root, rest.rstrip("/")


def _entry(root: str, file: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "path": f"{root}/{file.get('name')}",
        "size": file.get("size"),
        "last_modified": file.get("created"),
    }


class AsyncFileStream:
    """One file, read whole (``read_all``) or in chunks (``async for chunk in read()``)."""

    def __init__(self, fs: AsyncFileSystem, path: str) -> None:
        self._fs, self.path = fs, path

    async def read(self) -> AsyncIterator[bytes]:
        yield await self._fs.content(self.path)

    async def read_all(self) -> bytes:
        return await self._fs.content(self.path)

    async def remove(self) -> bool:
        return await self._fs.remove(self.path)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> AsyncFileStream:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None


class AsyncFileSystem:
    """The run's files. ``record(name, fn)`` runs ``fn`` once as a step (the tracer's)."""

    def __init__(
        self,
        store: FileStore | None,
        context: Mapping[str, Any],
        uploaded: list[dict[str, Any]],
        record: Callable[..., Awaitable[Any]],  # (step name, function, its arguments)
    ) -> None:
        self._store, self._context, self._uploaded, self._record = store, context, uploaded, record

    def _files(self, root: str) -> list[Mapping[str, Any]]:
        if root == "out":
            return list(self._uploaded)
        found = self._context.get("files")
        return [f for f in found if isinstance(f, Mapping)] if isinstance(found, list) else []

    async def ls(self, path: str = "in") -> list[dict[str, Any]]:
        """``[{"path": "in/a.pdf", "size": ..., "last_modified": ...}]``."""
        root, rest = _root(path)
        entries = [_entry(root, f) for f in self._files(root)]
        if not rest:
            return entries
        wanted = f"{root}/{rest}"
        found = [e for e in entries if e["path"] == wanted or e["path"].startswith(wanted + "/")]
        if not found:
            raise FileNotFoundError(wanted)
        return found

    def _find(self, path: str) -> Mapping[str, Any]:
        root, rest = _root(path)
        for file in self._files(root):
            if _entry(root, file)["path"] == f"{root}/{rest}":
                return file
        raise FileNotFoundError(path)

    async def content(self, path: str) -> bytes:
        file = self._find(path)
        if self._store is None:
            raise FileNotFoundError(f"{path}: this Lockstep keeps no files")
        return await self._store.read(file)

    def open(self, path: str) -> AsyncFileStream:
        _root(path)
        return AsyncFileStream(self, path)

    async def download(self, path: str = "in") -> AsyncIterator[str]:
        """Copy files to a new local folder, yielding each local path (kodosumi's order and
        layout: relative to the folder asked for)."""
        root, rest = _root(path)
        asked = Path(root, rest)
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="lockstep-"))
        for entry in await self.ls(path):
            item = Path(entry["path"])
            target = folder / (item.name if item == asked else item.relative_to(asked))
            await asyncio.to_thread(_write, target, await self.content(entry["path"]))
            yield str(target)

    async def upload(self, path: str) -> str | None:
        """Share a local file, or every file under a folder, as the run's ``out`` files;
        returns the batch's id (None: nothing to upload). Recorded: a replay does not upload."""

        async def share(_named: str) -> dict[str, Any]:
            files = await asyncio.to_thread(_local_files, Path(path))
            if not files:
                return {"batch": None, "files": []}
            if self._store is None:
                raise FileNotFoundError(f"{path}: this Lockstep keeps no files")
            shared = []
            for name, local in files:
                content = await asyncio.to_thread(local.read_bytes)
                shared.append(await self._store.write(self._context, name, content))
            return {"batch": uuid.uuid4().hex, "files": shared}

        # named by the file: in a branch, a step is known by its arguments too
        done = await self._record(UPLOAD_STEP, share, Path(path).name)
        self._uploaded.extend(done["files"])
        batch: str | None = done["batch"]
        return batch

    async def remove(self, path: str) -> bool:
        raise PermissionError(f"{path}: Lockstep does not delete files")

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> AsyncFileSystem:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None


class Opening:
    """What ``tracer.fs()`` returns: awaited, the file system (kodosumi's
    ``async with await tracer.fs() as fs``); or used as ``async with tracer.fs() as fs``
    directly, as some kodosumi apps do."""

    def __init__(self, fs: AsyncFileSystem) -> None:
        self._fs = fs

    def __await__(self) -> Generator[Any, None, AsyncFileSystem]:
        return self._ready().__await__()

    async def _ready(self) -> AsyncFileSystem:
        return self._fs

    async def __aenter__(self) -> AsyncFileSystem:
        return self._fs

    async def __aexit__(self, *_exc: object) -> None:
        await self._fs.close()


def _write(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)


def _local_files(path: Path) -> list[tuple[str, Path]]:
    if path.is_file():
        return [(path.name, path)]
    if path.is_dir():
        return [(str(f.relative_to(path)), f) for f in sorted(path.rglob("*")) if f.is_file()]
    return []


class SyncFileSystem:
    """The same, for sync code running off the event loop (a sync flow, a worker thread)."""

    def __init__(self, fs: AsyncFileSystem, loop: asyncio.AbstractEventLoop) -> None:
        self._fs, self._loop = fs, loop

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            work.close()
            raise RuntimeError("fs_sync() is for code off the event loop: use await tracer.fs()")
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    def ls(self, path: str = "in") -> list[dict[str, Any]]:
        return self._run(self._fs.ls(path))

    def open(self, path: str) -> SyncFileStream:
        _root(path)
        return SyncFileStream(self, path)

    def content(self, path: str) -> bytes:
        return self._run(self._fs.content(path))

    def download(self, path: str = "in") -> Iterator[str]:
        paths = self._fs.download(path)
        while True:
            try:
                yield self._run(_next(paths))
            except StopAsyncIteration:
                return

    def upload(self, path: str) -> str | None:
        return self._run(self._fs.upload(path))

    def remove(self, path: str) -> bool:
        return self._run(self._fs.remove(path))

    def close(self) -> None:
        return None

    def __enter__(self) -> SyncFileSystem:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None


async def _next(items: AsyncIterator[str]) -> str:
    return await anext(items)


class SyncFileStream:
    def __init__(self, fs: SyncFileSystem, path: str) -> None:
        self._fs, self.path = fs, path

    def read(self) -> Iterator[bytes]:
        yield self._fs.content(self.path)

    def read_all(self) -> bytes:
        return self._fs.content(self.path)

    def remove(self) -> bool:
        return self._fs.remove(self.path)

    def close(self) -> None:
        return None

    def __enter__(self) -> SyncFileStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None
