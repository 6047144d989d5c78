"""The import rules of the layers, read from the source (every import, including those inside
functions and ``TYPE_CHECKING`` blocks). ``tests/test_layers.py`` holds the tree to them.

- The SDK (``flows``, but for ``flows.engine`` and ``flows.examples``) imports no runtime, no
  store, no adapter, and no Slack, SQL or HTTP library.
- The engine (``flows.engine``) imports the SDK and itself only: no Slack, no SQL, no HTTP.
- The store imports of the engine only the contract it implements (``records``, ``ports``)
  and the SDK's errors; no adapter, no Slack.
- The adapter (``bot``) imports the SDK and the engine's front door (``flows.engine`` itself),
  and the store only in its composition root (``bot.app``, and ``bot.loading`` opening what
  the settings name). The fake Slack (``bot.fake``)
  imports nothing of the bot outside itself.
- Flows (``flows.examples``) import the SDK only.
- No import cycles among Lockstep's own modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGES = ("flows", "store", "bot")
FOREIGN = ("slack_bolt", "slack_sdk", "sqlalchemy", "sqlmodel", "alembic", "aiohttp", "asyncpg",
           "apscheduler")  # fmt: skip


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """The modules ``path`` imports (``from m import n`` is ``m.n`` when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return found


def _within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer(name: str) -> str:
    if _within(name, "flows.engine"):
        return "engine"
    if _within(name, "flows.examples"):
        return "flows"
    if _within(name, "flows"):
        return "sdk"
    return name.split(".")[0]  # store, bot


def _owner(target: str, known: set[str]) -> str:
    """The Lockstep module ``target`` is, or is in (``target`` itself if none)."""
    while target not in known and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


def refused(module: str, target: str, known: set[str]) -> str | None:
    """Why ``module`` may not import ``target``, or None."""
    own = _owner(target, known)
    mine = layer(module)
    if _within(target, *FOREIGN) and mine in ("sdk", "engine", "flows"):
        return f"the {mine} layer imports no Slack, SQL or HTTP library"
    if own not in known:
        return None  # the standard library, pydantic, ...
    theirs = layer(own)
    if mine == "sdk" and theirs != "sdk":
        return "the SDK imports only the SDK"
    if mine == "flows" and theirs != "sdk":
        return "flows import only the SDK"
    if mine == "engine" and theirs not in ("sdk", "engine"):
        return "the engine imports only the SDK and itself"
    if mine == "store":
        if theirs == "bot":
            return "the store imports no adapter"
        if theirs == "engine" and own not in ("flows.engine.records", "flows.engine.ports"):
            return "the store imports only the engine's records and ports"
        if theirs == "sdk" and own != "flows.errors":
            return "the store imports only the SDK's errors"
    if mine == "bot":
        if theirs == "engine" and own != "flows.engine":
            return "the adapter imports only the engine's front door, flows.engine"
        if theirs == "store" and module not in ("bot.app", "bot.loading"):
            return "only the composition root (bot.app, bot.loading) opens the store"
        if _within(module, "bot.fake") and theirs == "bot" and not _within(own, "bot.fake"):
            return "the fake Slack imports nothing of the bot outside bot.fake"
    return None


def violations(root: Path) -> list[str]:
    found = modules(root)
    known = set(found)
    graph: dict[str, set[str]] = {}
    problems = []
    for module, path in found.items():
        graph[module] = set()
        for target in imports(path, known):
            if why := refused(module, target, known):
                problems.append(f"{module} imports {target}: {why}")
            own = _owner(target, known)
            if own in known and own != module and not module.startswith(own + "."):
                graph[module].add(own)
    problems.extend(f"import cycle: {' -> '.join(c)}" for c in cycles(graph))
    return sorted(set(problems))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan's algorithm).
    A package importing its own submodules (``__init__`` re-exports) is not a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def edges(node: str) -> set[str]:
        return {t for t in graph.get(node, set()) if not t.startswith(node + ".")}

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges(node):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
