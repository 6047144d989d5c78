"""Two entries sharing one model: "/" launches a sync runner (run in a worker thread, output
with the ``*_sync`` methods), "/async" an async one; inputs are text fields with string
defaults, parsed by hand."""

import itertools
import threading
from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, Launch, Tracer, InputsError, forms as F
from flows import InputsError, Launch, ServeAPI, Tracer
from flows import forms as F

app = ServeAPI()
threads: list[str] = []

model = F.Model(
    F.Markdown("# Prime Gap Distribution"),
    F.InputText(label="Start", name="start", value="1"),
    F.InputText(label="End", name="end", value="100"),
    F.Submit("Go"),
    F.Cancel("Cancel"),
)


def _bounds(inputs: dict) -> tuple[int, int]:
    try:
        return int(inputs.get("start", "").strip()), int(inputs.get("end", "").strip())
    except ValueError:
        raise InputsError(start="Start and end must be whole numbers") from None


def _primes(start: int, end: int) -> list[int]:
    return [n for n in range(max(start, 2), end + 1) if all(n % d for d in range(2, n))]


@app.enter("/", model, summary="Prime Gap Distribution")
async def enter(request: Any, inputs: dict) -> Any:
    _bounds(inputs)
    return Launch(request, run, inputs=inputs)


@app.enter("/async", model, summary="Prime Gaps (async)")
async def enter_async(inputs: dict, request: Any) -> Any:
    _bounds(inputs)
    return Launch(request, run_async, inputs=inputs)


def run(inputs: dict, tracer: Tracer) -> dict:
    threads.append(threading.current_thread().name)
    start, end = _bounds(inputs)
    tracer.markdown_sync(f"## Primes from {start} to {end}")
    primes = _primes(start, end)
    tracer.debug_sync(f"found {len(primes)}")
    gaps = [b - a for a, b in itertools.pairwise(primes)]
    return {"primes": len(primes), "largest_gap": max(gaps, default=0)}


async def run_async(inputs: dict, tracer: Tracer) -> dict:
    start, end = _bounds(inputs)
    await tracer.markdown(f"## Primes from {start} to {end}")
    primes = _primes(start, end)
    return {"primes": len(primes)}
