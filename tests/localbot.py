"""Lockstep in local mode, in-process or as ``python -m bot`` in a subprocess, for tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.local.standin import StandIn

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0  # seconds for the subprocess to print its address
STOP_TIMEOUT = 15.0
ADDRESS = re.compile(r"http://127\.0\.0\.1:\d+/")
Snapshot = dict[str, Any]


@dataclass(frozen=True)
class LocalProcess:
    url: str
    line: str  # everything it printed on stdout before serving
    log: Path  # its stderr
    proc: asyncio.subprocess.Process


def local_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment without Slack credentials: what a newcomer has."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LOCKSTEP_"))}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'local.db'}", "PORT": "0"}
    return env | {"PYTHONPATH": str(ROOT)} | extra


@asynccontextmanager
async def local_process(tmp_path: Path, **env: str) -> AsyncIterator[LocalProcess]:
    """``python -m bot`` with no Slack credentials, until the block ends (then SIGTERM)."""
    log = tmp_path / "bot.log"
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=tmp_path,  # no .env here
            env=local_env(tmp_path, **env),
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(START_TIMEOUT):
            line = (await proc.stdout.readline()).decode()
        found = ADDRESS.search(line)
        assert found, f"no address in {line!r}; log: {log.read_text()[-2000:]}"
        yield LocalProcess(found.group(0), line, log, proc)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def until(
    standin: StandIn, user: str, check: Callable[[Snapshot], Any], timeout: float = 10.0
) -> Snapshot:
    """The first snapshot of what ``user`` sees that passes ``check``; waits on changes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        snapshot = standin.snapshot(user)
        with contextlib.suppress(LookupError, TypeError, StopIteration):
            if check(snapshot):
                return snapshot
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"not seen in {timeout}s; {user} sees {snapshot}")
        await standin.wait_changed(snapshot["version"], left)
