"""The ``lockstep`` command: its arguments, and what each command prints."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import aiohttp

from bot.cli import admin, remote
from bot.cli.remote import ERROR, OK, TIMED_OUT, CliError, Remote
from bot.settings import Settings, SettingsError, database_url
from flows.engine import Workspace


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Usage mistakes exit 3: 2 means a waited-on run timed out."""
        self.print_usage(sys.stderr)
        print(f"lockstep: {message}", file=sys.stderr)
        raise SystemExit(ERROR)


def _seconds(text: str) -> float:
    """A number of seconds to wait: finite and not negative (``float`` takes ``nan`` and
    ``inf``)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return seconds


def parser() -> Parser:
    top = Parser(prog="lockstep", description="Start, follow and answer Lockstep flows.")
    commands = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    start = commands.add_parser("start", help="start a flow: lockstep start deploy service=api")
    start.add_argument("flow")
    start.add_argument("inputs", nargs="*", metavar="key=value")
    start.add_argument("--channel", default=os.environ.get("LOCKSTEP_CHANNEL") or None,
                       help="Slack channel id to run in (default: $LOCKSTEP_CHANNEL; none: "
                       "shown nowhere in Slack)")  # fmt: skip
    start.add_argument("--wait", action="store_true", help="wait until the run ends")
    start.add_argument("--timeout", type=_seconds, default=3600.0, help="seconds to wait (3600)")
    start.add_argument("--idempotency-key", help="the same key again starts nothing new")
    status = commands.add_parser("status", help="show a run")
    status.add_argument("run")
    answer = commands.add_parser("answer", help="answer a lock: lockstep answer LOCK k=v")
    answer.add_argument("lock")
    answer.add_argument("inputs", nargs="*", metavar="key=value")
    answer.add_argument("--reject", action="store_true", help="reject instead of submitting")
    answer.add_argument("--comment", help="kept with a rejection")
    answer.add_argument("--idempotency-key", help="the same key again answers nothing new")
    cancel = commands.add_parser("cancel", help="cancel a run")
    cancel.add_argument("run")
    cancel.add_argument("--reason")
    for command in (start, status, answer, cancel):
        command.add_argument("--json", action="store_true", help="print the API's JSON")
    token = commands.add_parser("token", help="API tokens (on the database)")
    tokens = token.add_subparsers(dest="action", required=True, parser_class=Parser)
    create = tokens.add_parser("create", help="make a token; its secret is printed once")
    create.add_argument("name")
    create.add_argument("--start", action="append", help="flows it may start (or *)")
    create.add_argument("--read", action="append", help="flows whose runs it may read (or *)")
    create.add_argument("--answer", action="append",
                        help="Slack users, groups (S…), channel or * it answers for")  # fmt: skip
    create.add_argument("--team", default="",
                        help="installed to many workspaces: the one it acts in (T…)")  # fmt: skip
    create.add_argument("--enterprise", default="",
                        help="... and its Enterprise Grid organisation (E…)")  # fmt: skip
    listing = tokens.add_parser("list", help="the tokens (never their secrets)")
    listing.add_argument("--revoked", action="store_true", help="revoked ones too")
    revoke = tokens.add_parser("revoke", help="revoke a token: its next request gets a 401")
    revoke.add_argument("name")
    hook = commands.add_parser("webhook", help="webhook subscriptions (on the database)")
    hooks = hook.add_subparsers(dest="action", required=True, parser_class=Parser)
    add = hooks.add_parser("add", help="send events to a URL, signed (Standard Webhooks)")
    add.add_argument("url")
    add.add_argument("--events", action="append", help="which events (default: all)")
    add.add_argument("--secret", help="whsec_… (default: a new one, printed)")
    hooks.add_parser("list", help="the subscriptions")
    remove = hooks.add_parser("remove", help="stop sending to a subscription")
    remove.add_argument("id", type=int)
    return top


def _remote() -> Remote:
    # as a CI secret may hold them: with the line break that ended the file they came from
    url = os.environ.get("LOCKSTEP_URL", "").strip()
    token = os.environ.get("LOCKSTEP_TOKEN", "").strip()
    if not url or not token:
        raise CliError("set LOCKSTEP_URL (the bot, e.g. https://lockstep.example.com) and "
                       "LOCKSTEP_TOKEN (from lockstep token create)")  # fmt: skip
    return Remote(url.rstrip("/"), token)


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2))


async def _remote_command(args: argparse.Namespace) -> int:
    target = _remote()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        match args.command:
            case "start":
                values = remote.pairs(args.inputs)
                run = await remote.start(
                    http, target, args.flow, values, args.channel, args.idempotency_key
                )
                print(run["slack_url"] or f"run {run['id']} (not shown in Slack)", flush=True)
                if args.json:
                    _print(run)
                if not args.wait:
                    return OK
                say = None if args.json else remote.narrate
                ended = await remote.wait(http, target, run["id"], args.timeout, say)
                if ended is None:
                    print(f"timed out after {args.timeout:g}s: run {run['id']} goes on",
                          file=sys.stderr)  # fmt: skip
                    return TIMED_OUT
                _print(ended) if args.json else print(remote.describe(ended))
                return remote.ending_status(ended)
            case "status":
                status, run = await remote.call(http, target, "GET", f"/api/v1/runs/{args.run}")
                if status != 200:
                    raise remote.problem(status, run)
                _print(run) if args.json else print(remote.describe(run))
                if run.get("slack_url") and not args.json:
                    print(run["slack_url"])
                return OK
            case "answer":
                body = {"inputs": remote.pairs(args.inputs), "comment": args.comment,
                        "decision": "reject" if args.reject else "submit"}  # fmt: skip
                path = f"/api/v1/locks/{args.lock}/answer"
                key = args.idempotency_key
                sent = {"Idempotency-Key": key} if key else None
                status, answered = await remote.call(http, target, "POST", path, body, sent)
                if status != 200:
                    raise remote.problem(status, answered)
                _print(answered) if args.json else print(answered["outcome"])
                return OK
            case "cancel":
                path = f"/api/v1/runs/{args.run}/cancel"
                status, run = await remote.call(http, target, "POST", path, {"reason": args.reason})
                if status != 200:
                    raise remote.problem(status, run)
                _print(run) if args.json else print(remote.describe(run))
                return OK
    raise CliError(f"unknown command {args.command}")


def _database() -> str | None:
    """The database the bot would open here (``DATABASE_URL``, local mode's own file, or
    ``./lockstep.db``), read from the environment and ``.env`` as the bot reads them."""
    try:
        return Settings().store_url
    except ValueError:  # a setting the bot would refuse: this command needs only the database
        return database_url()


async def _admin_command(args: argparse.Namespace) -> int:
    url = _database()
    match (args.command, args.action):
        case ("token", "create"):
            where = Workspace(enterprise_id=args.enterprise, team_id=args.team)
            made = admin.token_create(url, args.name, args.start, args.read, args.answer, where)
            print(await made)
        case ("token", "list"):
            for t in await admin.token_list(url, args.revoked):
                state = " (revoked)" if t["revoked_at"] else ""
                team = f"\t{t['team']}" if t["team"] else ""
                print(f"{t['name']}{state}\t{t['id']}\t{json.dumps(t['scopes'])}{team}")
        case ("token", "revoke"):
            await admin.token_revoke(url, args.name)
            print(f"revoked {args.name}")
        case ("webhook", "add"):
            sid, secret = await admin.webhook_add(url, args.url, args.events, args.secret)
            print(f"webhook {sid}\n{secret}")
        case ("webhook", "list"):
            for w in await admin.webhook_list(url):
                print(f"{w['id']}\t{w['url']}\t{','.join(w['events'])}")
        case ("webhook", "remove"):
            await admin.webhook_remove(url, args.id)
            print(f"removed webhook {args.id}")
        case _:
            raise CliError(f"unknown command {args.command} {args.action}")
    return OK


def run(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    command = _admin_command if args.command in ("token", "webhook") else _remote_command
    try:
        return asyncio.run(command(args))
    except (CliError, SettingsError) as exc:
        print(f"lockstep: {exc}", file=sys.stderr)
        return ERROR
    except Exception as exc:  # anything else is 3 as well: never 1, which says "rejected"
        print(f"lockstep: {type(exc).__name__}: {exc}", file=sys.stderr)
        return ERROR


def main() -> None:
    raise SystemExit(run())
