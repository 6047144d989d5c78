"""The bot under benchmark: ``python -m bot`` in a subprocess on a free loopback port, pointed
at a fake Slack, with its CPU time and its log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.fake.slack import FakeSlack
from bot.settings import EXAMPLE_FLOWS

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 30.0  # seconds for the bot to answer /healthz
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class BotProcess:
    url: str  # where Slack posts: ``/slack/events``
    pid: int

    def cpu_seconds(self) -> float:
        """User and system CPU the bot has used so far (Linux ``/proc``)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@contextlib.asynccontextmanager
async def bot_process(
    slack: FakeSlack, tmp: Path, secret: str, env_extra: dict[str, str] | None = None
) -> AsyncIterator[BotProcess]:
    """``python -m bot`` on a free loopback port, its output in ``tmp/bot.log``; ``env_extra``
    overrides its settings."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LOCKSTEP_"))}
    env |= {
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": secret,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "PORT": str(port),
        "LOCKSTEP_HOST": "127.0.0.1",
        "LOCKSTEP_FLOWS": ",".join(EXAMPLE_FLOWS),
        "LOCKSTEP_SWEEP_SECONDS": "3600",
        "PYTHONPATH": str(ROOT),
    } | (env_extra or {})
    with open(tmp / "bot.log", "wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=ROOT, env=env, stdout=log, stderr=log
        )
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_ready(proc, f"{base}/healthz")
            yield BotProcess(f"{base}/slack/events", proc.pid)
        finally:
            await stop(proc)


async def wait_ready(proc: asyncio.subprocess.Process, url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise BenchError(f"the bot exited with {proc.returncode} before it was ready")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise BenchError(f"the bot did not answer {url} within {READY_TIMEOUT}s")


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), STOP_GRACE)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def report_log(path: Path) -> None:
    """Warnings, errors and tracebacks the bot logged, on our stderr (the JSON stays on stdout)."""
    if not path.exists():
        return
    lines = path.read_text(errors="replace").splitlines()
    marks = (" WARNING ", " ERROR ", " CRITICAL ", "Traceback", "Error:")
    bad = [line for line in lines if any(m in line for m in marks)]
    print(f"bot log: {len(lines)} lines, {len(bad)} warnings or errors", file=sys.stderr)
    for line in bad[:20]:
        print(f"  {line}", file=sys.stderr)
