"""kodosumi's routes, in kodosumi's shapes, for its clients: ``GET /-/{path}`` (an entry's
form: ``{"summary", "description", "tags", "openapi_extra", "elements"}``), ``POST /-/{path}``
(launch with the field values: ``{"result": fid, "elements": […]}`` or ``{"errors": {…},
"elements": […]}``, both with status 200), ``GET /lock/{fid}/{lid}`` (the
lock's form as an element list), ``POST /lock/{fid}/{lid}`` (the field values: ``{"result":
…, "elements": […]}`` or ``{"errors": {…}, "elements": […]}`` with status 200, the lock staying
open) and ``GET /outputs/status/{fid}`` (its 16 keys). A missing run or lock is kodosumi's 404
``{"status_code": 404, "detail": …}``. Unlike kodosumi's, they need a bearer token, check who
answers (the token, as in ``bot.api.service``) and record it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.api.auth import Principal
from bot.api.http import Refused, named_nothing, refuse, reply
from bot.api.kodosumi_wire import (
    NO_RESULT,
    as_events,
    as_final,
    as_json,
    as_status,
    as_text,
    as_texts,
    flow_item,
    names_entry,
)
from bot.api.models import (
    KodosumiLaunchAnswer,
    KodosumiLockAnswer,
    KodosumiNotFound,
    KodosumiStatus,
)
from bot.api.posted import posted_values
from bot.api.stream import Chunks, Stream
from bot.api.views import plain
from flows import InputsError, Request
from flows.app import EntrySpec
from flows.engine import Answer, Call, Cancel, Engine, EntryFailed, Event, Execution
from flows.errors import FlowConfigError

MAIN = frozenset({"meta", "agent", "inputs", "status", "error", "action", "result", "final",
                  "lock", "lease"})  # fmt: skip
STDIO = frozenset({"stdout", "stderr", "debug", "error", "upload", "warning"})
MOST_KILLED = 1000  # runs one `DELETE /outputs/` may name (each is read, and may be cancelled)


class Kodosumi:
    def __init__(self, engine: Engine, stream: Stream) -> None:
        self.engine = engine
        self.stream_ = stream

    def _entry(self, request: web.Request) -> EntrySpec:
        """The entry a kodosumi panel URL names. The panel proxies
        ``/-/{host}/{port}/{app prefix}/-/{entry path}`` to the app: what follows the first
        ``/-/`` is the entry's path (``/-/localhost/8001/hymn/-/`` is the entry at ``/``).
        ``/-/{entry path}`` alone works too. Several apps with an entry at one path: the part
        just before that ``/-/`` (the app's route prefix) is the flow's name, or its module's."""
        tail = request.match_info["path"]
        if named_nothing(tail):
            raise _missing(f"{tail!r} not found.")
        marked = "/" + tail.strip("/") + "/"
        base, rel = marked.split("/-/", 1) if "/-/" in marked else ("", marked)
        rel = "/" + rel.strip("/")
        entries = list(self.engine.registry.entries.values())
        found = [e for e in entries if "/" + e.path.strip("/") == rel and e.path]
        found = found or [e for e in entries if e.name == rel.strip("/")]
        if len(found) > 1:
            found = [e for e in found if names_entry(e, base.strip("/"))] or found
        if len(found) != 1:
            raise _missing(f"/-/{tail} not found.")
        return found[0]

    async def flows(self, request: web.Request, who: Principal) -> web.StreamResponse:
        """kodosumi's ``GET /flow``: ``{"items": [...], "offset": <uid of the last, while more
        follow>}``, ``pp`` a page (10), ``offset`` the previous page's, ``q`` a search."""
        q = request.query
        try:
            pp = int(q.get("pp") or 10) if (q.get("pp") or "10").isascii() else -1
        except ValueError:
            pp = -1
        if pp < 1:
            raise refuse(400, "bad_request", "pp: a page of 1 or more flows")
        wanted = (q.get("q") or "").lower()
        items = [
            item
            for spec in self.engine.registry.entries.values()
            if who.scopes.starts(spec.name) or who.scopes.reads(spec.name)
            if wanted in flow_item(spec)["search"]
            for item in [flow_item(spec)]
        ]
        start = next((i + 1 for i, it in enumerate(items) if it["uid"] == q.get("offset")), 0)
        page = [{k: v for k, v in it.items() if k != "search"} for it in items[start:][:pp]]
        more = start + pp < len(items)
        return reply({"items": page, "offset": page[-1]["uid"] if page and more else None})

    async def tags(self, request: web.Request, who: Principal) -> web.StreamResponse:
        """kodosumi's ``GET /flow/tags``: each tag of the flows listed, with how many have it."""
        counted: dict[str, int] = {}
        for spec in self.engine.registry.entries.values():
            if who.scopes.starts(spec.name) or who.scopes.reads(spec.name):
                for tag in as_texts(spec.meta.get("tags")):
                    counted[tag] = counted.get(tag, 0) + 1
        return reply(counted)

    async def schema(self, request: web.Request, who: Principal) -> web.StreamResponse:
        """kodosumi's ``GET`` of an entry: its ``enter`` keywords and its form's elements."""
        spec = self._entry(request)
        if not (who.scopes.starts(spec.name) or who.scopes.reads(spec.name)):
            raise refuse(403, "forbidden", f"this token may not read {spec.name}")
        extra: dict[str, Any] = {"x-kodosumi": True}
        for key in ("author", "organization", "version"):
            if (value := as_text(spec.meta.get(key))) is not None:
                extra[f"x-{key}"] = value
        shown: dict[str, Any] = {"summary": spec.summary, "description": spec.description}
        if "tags" in spec.meta:
            shown["tags"] = as_texts(spec.meta.get("tags"))
        if isinstance(spec.meta.get("deprecated"), bool):
            shown["deprecated"] = spec.meta["deprecated"]
        shown["openapi_extra"] = extra
        shown["elements"] = spec.model.to_json() if spec.model else []
        return reply(shown)

    async def inputs(self, request: web.Request, who: Principal) -> web.StreamResponse:
        """``GET /inputs/-/{path}``, where kodosumi's panel serves an entry's form."""
        return await self.schema(request, who)

    async def launch(self, request: web.Request, who: Principal) -> web.StreamResponse:
        """kodosumi's ``POST`` of an entry: the field values as JSON; ``{"result": fid}``, or
        the errors with the lock-style 200 (nothing started)."""
        return reply(await self._launched(request, who, await posted_values(request)))

    async def inputs_launch(self, request: web.Request, who: Principal) -> web.StreamResponse:
        """``POST /inputs/-/{path}``, the form kodosumi's panel posts: a launch redirects (302)
        to the run's status, its id last; refused inputs are the errors, as ``POST /-/``;
        ``__cancel__`` goes back to ``/``, nothing started."""
        values = await posted_values(request)
        if values.get("__cancel__") == "__cancel__":
            self._entry(request)
            return _redirect("/")
        answer = await self._launched(request, who, values)
        return _redirect(f"/outputs/status/{answer.result}") if answer.result else reply(answer)

    async def _launched(
        self, request: web.Request, who: Principal, values: dict[str, Any]
    ) -> KodosumiLaunchAnswer:
        spec = self._entry(request)
        if not who.scopes.starts(spec.name):
            raise refuse(403, "forbidden", f"this token may not start {spec.name}")
        elements = spec.model.to_json() if spec.model else []
        try:
            launch = await self.engine.prepare(spec.name, values, Request(spec.name, who.actor))
            launched = await self.engine.launch(launch, workspace=who.workspace)
        except InputsError as exc:
            return KodosumiLaunchAnswer(errors=exc.wire(), elements=elements)
        except FlowConfigError as exc:  # the enter handler made inputs that cannot be kept
            return KodosumiLaunchAnswer(errors={"_global_": [str(exc)]}, elements=elements)
        except EntryFailed as exc:
            raise refuse(
                500, "failed", f"the flow could not start (error id {exc.error_id})"
            ) from None
        return KodosumiLaunchAnswer(result=launched.id, elements=elements)

    async def _lock(self, request: web.Request, who: Principal) -> tuple[Execution, Call]:
        fid, lid = request.match_info["fid"], request.match_info["lid"]
        if named_nothing(fid) or named_nothing(lid):
            raise _missing(f"Lock {lid!r} for {fid!r} not found.")
        execution = await self.engine.execution(fid, who.workspace)
        if execution is None:
            raise _missing(f"Execution {fid} not found.")
        if not who.scopes.reads(execution.flow):
            raise refuse(403, "forbidden", f"this token may not read runs of {execution.flow}")
        lock = await self.engine.lock(lid, who.workspace)
        if lock is None or lock.execution_id != fid:
            raise _missing(f"Lock {lid} for {fid} not found.")
        if not lock.open:
            raise _missing(f"Lock {lid} for {fid} released.")
        return execution, lock

    async def form(self, request: web.Request, who: Principal) -> web.StreamResponse:
        _, lock = await self._lock(request, who)
        return reply(list(lock.form or []))

    async def answer(self, request: web.Request, who: Principal) -> web.StreamResponse:
        return reply(await self._answered(request, who, await posted_values(request)))

    async def inputs_form(self, request: web.Request, who: Principal) -> web.StreamResponse:
        """``GET /inputs/lock/{fid}/{lid}``, where kodosumi's panel shows a lock's form."""
        return await self.form(request, who)

    async def inputs_answer(self, request: web.Request, who: Principal) -> web.StreamResponse:
        """``POST /inputs/lock/{fid}/{lid}``, the form kodosumi's panel posts: an accepted
        answer redirects (302) to the run's status; refused inputs are the errors, as ``POST
        /lock/``; ``__cancel__`` goes back to the status, nothing decided."""
        values = await posted_values(request)
        if values.get("__cancel__") == "__cancel__":
            _, lock = await self._lock(request, who)
            return _redirect(f"/outputs/status/{lock.execution_id}")
        answer = await self._answered(request, who, values)
        fid = request.match_info["fid"]
        return reply(answer) if answer.errors else _redirect(f"/outputs/status/{fid}")

    async def _answered(
        self, request: web.Request, who: Principal, values: dict[str, Any]
    ) -> KodosumiLockAnswer:
        _, lock = await self._lock(request, who)
        if not who.scopes.answers:
            raise refuse(403, "forbidden", "this token may not answer: it answers for no one")
        decision = await self.engine.submit(lock.id, values, who.actor, workspace=who.workspace)
        elements = list(lock.form or [])
        match decision.outcome:
            case Answer.ACCEPTED | Answer.COUNTED:
                decided = decision.lock or lock
                result = plain(decided.result) if decided.status == "resolved" else None
                return KodosumiLockAnswer(result=result, elements=elements)
            case Answer.INVALID:
                return KodosumiLockAnswer(errors=decision.errors, elements=elements)
            case Answer.FORBIDDEN:
                raise refuse(403, "forbidden", "this token may not decide this lock")
            case Answer.FAILED:
                raise refuse(500, "failed", f"the lease failed (error id {decision.error_id})")
            case Answer.REPEAT:  # still open, waiting for others: not released
                raise refuse(
                    409,
                    "conflict",
                    "this token, or the one person it answers for, has already approved this lock",
                )
            case Answer.DECIDED | Answer.REJECTED | Answer.GONE:
                raise _missing(f"Lock {lock.id} for {lock.execution_id} released.")

    async def kill(self, request: web.Request, who: Principal) -> web.StreamResponse:
        """kodosumi's ``DELETE /outputs/{fid}``: a running run is killed (cancelled, recorded
        as by this token), 204. An ended run is kept (its audit trail stays), 204 too."""
        await self._kill(request.match_info["fid"], who)
        return web.Response(status=204)

    async def kill_list(self, request: web.Request, who: Principal) -> web.StreamResponse:
        """kodosumi's ``DELETE /outputs/`` with ``{"fid": [...]}``: each, as ``DELETE
        /outputs/{fid}``; the first it cannot kill answers for all that follow. A run named
        twice is killed once; more than ``MOST_KILLED`` runs are refused, none killed. One
        ``fid`` (a form's one field, or a string) is a list of one; anything else is no run id."""
        fids = (await posted_values(request)).get("fid", [])
        fids = [fids] if isinstance(fids, str) else fids
        if not isinstance(fids, list) or not all(isinstance(f, str) for f in fids):
            raise refuse(400, "bad_request", "fid: a list of run ids")
        named = list(dict.fromkeys(fids))
        if len(named) > MOST_KILLED:
            raise refuse(400, "bad_request", f"fid: at most {MOST_KILLED} runs at once")
        for fid in named:
            await self._kill(fid, who)
        return web.Response(status=204)

    async def _run(self, fid: str, who: Principal) -> Execution:
        """The run ``fid`` names, if ``who`` may read it: else kodosumi's 404, or a 403."""
        execution = None if named_nothing(fid) else await self.engine.execution(fid, who.workspace)
        if execution is None:
            raise _missing(f"Execution {fid} not found.")
        if not who.scopes.reads(execution.flow):
            raise refuse(403, "forbidden", f"this token may not read runs of {execution.flow}")
        return execution

    async def _kill(self, fid: str, who: Principal) -> None:
        execution = await self._run(fid, who)
        if execution.done:
            return
        reason = f"killed by {who.name} (API)"
        cancelled = await self.engine.cancel(fid, who.actor, reason, workspace=who.workspace)
        if cancelled.outcome is Cancel.FORBIDDEN:
            raise refuse(
                403, "forbidden", "only whoever started the run (or its admins) may kill it"
            )
        if cancelled.outcome is Cancel.GONE:
            raise _missing(f"Execution {fid} not found.")

    async def raw(self, request: web.Request, who: Principal) -> web.StreamResponse:
        """kodosumi's ``GET /outputs/raw/{fid}``: the run's ``final`` as JSON (as the status
        has it, kodosumi's serialized result), or kodosumi's "no result, yet" while it runs."""
        fid = request.match_info["fid"]
        execution = await self._run(fid, who)
        final = as_final(execution) or as_json({"Markdown": {"body": NO_RESULT}})
        return web.Response(text=final, content_type="application/json")

    async def stream(self, request: web.Request, who: Principal) -> web.StreamResponse:
        """kodosumi's ``/outputs/stream/{fid}``: every event as kodosumi writes it, ``event:``
        its kind, ``data:`` ``<unix time>:<message>``, closed by ``eof``."""
        return await self._events(request, who, None)

    async def main(self, request: web.Request, who: Principal) -> web.StreamResponse:
        return await self._events(request, who, MAIN)

    async def stdio(self, request: web.Request, who: Principal) -> web.StreamResponse:
        return await self._events(request, who, STDIO)

    async def _events(
        self, request: web.Request, who: Principal, kinds: frozenset[str] | None
    ) -> web.StreamResponse:
        fid = request.match_info["fid"]
        execution = await self._run(fid, who)
        spec = self.engine.registry.entries.get(execution.flow)

        expired: list[str] = []  # the locks that expired so far, in order

        async def render(run: Execution, calls: list[Call], events: list[Event]) -> Chunks:
            chunks: Chunks = []
            for event in events:
                if event.kind == "expired" and event.call_id:
                    expired.append(event.call_id)
                for kind, message in as_events(run, spec, event, expired):
                    if kinds is None or kind in kinds:
                        line = message.replace("\n", "\ndata: ")  # SSE: one data line each
                        chunks.append(
                            (
                                event.id,
                                f"id: {event.id}\nevent: {kind}\ndata: {event.at}:{line}\n\n",
                            )
                        )
                chunks.append((event.id, ""))  # sent, though kodosumi has nothing for it
            if run.done:
                chunks.append((None, "id: 0\nevent: eof\ndata: end of stream\n\n"))
            return chunks

        return await self.stream_.serve(request, who, execution, 0, render)

    async def status(self, request: web.Request, who: Principal) -> web.StreamResponse:
        fid = request.match_info["fid"]
        if named_nothing(fid):
            raise _missing(f"Execution {fid!r} not found.")
        trail = await self.engine.trail(fid)
        if trail is None or await self.engine.execution(fid, who.workspace) is None:
            raise _missing(f"Execution {fid} not found.")
        execution, calls, _ = trail
        if not who.scopes.reads(execution.flow):
            raise refuse(403, "forbidden", f"this token may not read runs of {execution.flow}")
        spec = self.engine.registry.entries.get(execution.flow)
        meta = spec.meta if spec else {}
        return reply(
            KodosumiStatus(
                status=as_status(execution),
                timestamp=execution.updated_at,
                final=as_final(execution),
                fid=execution.id,
                summary=spec.summary if spec else None,
                description=spec.description if spec else None,
                tags=as_texts(meta.get("tags")),
                deprecated=meta.get("deprecated")
                if isinstance(meta.get("deprecated"), bool)
                else None,
                author=as_text(meta.get("author")),
                organization=as_text(meta.get("organization")),
                version=as_text(meta.get("version")),
                kodosumi_version=None,
                app_url=None,
                entry_point=execution.runner,
                username=execution.initiator,
                locks=[c.id for c in calls if c.kind == "lock" and c.open],
            )
        )


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


def _missing(detail: str) -> Refused:
    return Refused(404, KodosumiNotFound(status_code=404, detail=detail))
