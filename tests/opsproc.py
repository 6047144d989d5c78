"""``python -m bot`` in a subprocess for the operations tests: its environment of the test's
choosing, its log (stderr) read line by line as it comes, so a test waits for a line instead of
sleeping."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTED = "Running on"  # aiohttp's line once the bot listens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(**settings: str) -> dict[str, str]:
    """This environment without any Lockstep or Slack setting or log setting, plus
    ``settings``."""
    own = ("SLACK_", "LOCKSTEP_", "LOG_", "DATABASE_URL", "PORT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    return env | {"PYTHONPATH": str(ROOT), "LOCKSTEP_HOST": "127.0.0.1"} | settings


class BotProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._more = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            async with self._more:
                self.lines.append(line.decode(errors="replace").rstrip("\n"))
                self._more.notify_all()
        async with self._more:
            self._more.notify_all()

    async def wait_for_line(self, text: str, timeout: float = 30) -> str:
        """The first line (from the start) containing ``text``."""

        def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        async with asyncio.timeout(timeout), self._more:
            await self._more.wait_for(lambda: found() is not None or self._reader.done())
        line = found()
        if line is None:
            raise AssertionError(f"the bot exited without logging {text!r}:\n" + self.log())
        return line

    def log(self) -> str:
        return "\n".join(self.lines)

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    async def wait(self, timeout: float = 30) -> int:
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await self._reader
        return code


async def run_command(*args: str, env: Mapping[str, str]) -> tuple[int, str, str]:
    """``python -m bot ARGS``: its exit status, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=ROOT, env=dict(env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@asynccontextmanager
async def bot_process(env: Mapping[str, str], started: str = STARTED) -> AsyncIterator[BotProcess]:
    """The bot, started (once it has logged ``started``); killed at the end if it is still
    running."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=ROOT, env=dict(env), stderr=asyncio.subprocess.PIPE
    )
    bot = BotProcess(proc)
    try:
        await bot.wait_for_line(started)
        yield bot
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await bot._reader
