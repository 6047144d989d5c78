"""Tokens and scopes without a server: what a token may do, who it answers for in the engine's
access checks, how Slack names it, and a token's secret never stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import ValidationError

from bot.api.auth import Scopes, TokenDirectory, authenticate, hash_secret, new_token
from bot.render import messages
from flows.engine import ApiToken


class People:
    """SREVIEW holds UGROUPIE, SOPS holds UBOB; the run's channel holds UBOB."""

    async def includes(self, principal: str, user: str, context: Mapping[str, Any]) -> bool:
        return (principal, user) in {("SREVIEW", "UGROUPIE"), ("SOPS", "UBOB"), ("channel", "UBOB")}

    async def sees(self, user: str, context: Mapping[str, Any]) -> bool:
        return user in ("UBOB", "SOPS")  # a group: one of its members is in the channel


class Tokens:
    def __init__(self, *tokens: ApiToken) -> None:
        self.by_id = {t.id: t for t in tokens}

    async def token(self, token_id: str) -> ApiToken | None:
        return self.by_id.get(token_id)

    async def token_named(self, name: str) -> ApiToken | None:
        return next((t for t in self.by_id.values() if t.name == name), None)

    async def any_token(self) -> bool:
        return bool(self.by_id)


def made(name: str, **scopes: tuple[str, ...]) -> tuple[str, ApiToken]:
    secret, row = new_token(name, Scopes(**scopes), 1.0)
    return secret, ApiToken.model_validate(row)


def test_scopes_say_what_a_token_may_do() -> None:
    scopes = Scopes(start=("deploy",), read=("review",))
    assert scopes.starts("deploy") and not scopes.starts("review")
    assert scopes.reads("deploy") and scopes.reads("review") and not scopes.reads("expense")
    assert not scopes.answers
    everything = Scopes(start=("*",), answer=("*",))
    assert everything.starts("anything") and everything.reads("anything") and everything.answers
    with pytest.raises(ValidationError):
        Scopes(answer=("bob",))


async def test_a_token_is_found_by_its_secret_only() -> None:
    secret, token = made("ci", read=("*",))
    assert secret.split("_", 2)[2] not in token.model_dump_json()  # the secret may hold "_"
    assert token.secret_hash == hash_secret(secret.split("_", 2)[2])
    tokens = Tokens(token)
    found = await authenticate(tokens, f"Bearer {secret}")
    assert found is not None and found.actor == "api:ci"
    assert await authenticate(tokens, f"bearer {secret}") == found  # any case, as RFC 7235
    flipped = secret[:-1] + ("B" if secret.endswith("A") else "A")
    for header in (None, secret, f"Bearer {secret}x", f"Bearer {flipped}", "Bearer lst_"):
        assert await authenticate(tokens, header) is None, header
    with pytest.raises(ValueError):
        new_token("no spaces", Scopes(), 1.0)


async def test_a_token_stands_for_the_people_it_answers_for() -> None:
    _, bob = made("bobs", answer=("UBOB",))
    _, groupie = made("groupies", answer=("UGROUPIE",))
    _, anyone = made("all", answer=("*",))
    _, reviewers = made("reviewers", answer=("SREVIEW",))
    _, members = made("members", answer=("channel",))
    tokens = Tokens(bob, groupie, anyone, reviewers, members)
    directory = TokenDirectory(People(), tokens.token_named)
    context = {"channel": "C1"}
    assert await directory.includes("UBOB", "api:bobs", context)  # four-eyes holds it to UBOB
    assert await directory.includes("channel", "api:bobs", context)  # UBOB is in the channel
    assert not await directory.includes("SREVIEW", "api:bobs", context)
    assert await directory.includes("SREVIEW", "api:groupies", context)
    assert await directory.includes("SREVIEW", "api:all", context)
    assert not await directory.includes("api:ci", "api:all", context)  # nor another token
    assert not await directory.includes("UBOB", "api:gone", context)  # revoked or unknown
    assert await directory.includes("SREVIEW", "UGROUPIE", context)  # people: as before
    assert not await directory.includes("UALICE", "UBOB", context)
    # one answering for a group or the channel stands for each person in it (four-eyes too)
    assert await directory.includes("UGROUPIE", "api:reviewers", context)
    assert not await directory.includes("UBOB", "api:reviewers", context)
    assert await directory.includes("UBOB", "api:members", context)
    assert not await directory.includes("UGROUPIE", "api:members", context)


async def test_a_token_for_a_group_or_the_channel_stands_for_its_people_in_the_other() -> None:
    """``approvers=["channel"]`` is who answers a lock naming none: a token answering for a
    group may when one of its members is in the channel, either way; and one answering for
    the channel may answer for a group with a member in the channel."""
    _, ops = made("ops", answer=("SOPS",))
    _, reviewers = made("reviewers", answer=("SREVIEW",))
    _, members = made("members", answer=("channel",))
    directory = TokenDirectory(People(), Tokens(ops, reviewers, members).token_named)
    context = {"channel": "C1"}
    assert await directory.sees("api:ops", context)  # no approvers: UBOB is in the channel
    assert await directory.includes("channel", "api:ops", context)  # so too with "channel"
    assert not await directory.sees("api:reviewers", context)
    assert not await directory.includes("channel", "api:reviewers", context)
    assert await directory.includes("SOPS", "api:members", context)  # UBOB: SOPS, channel
    assert not await directory.includes("SREVIEW", "api:members", context)


def test_slack_names_a_token_by_its_name_literally() -> None:
    assert messages.who("api:release-bot") == "release-bot"
    assert messages.who("UBOB") == "<@UBOB>"
    assert messages.mention(["UBOB", "api:ci", "SREVIEW"]) == "<@UBOB>, ci, <!subteam^SREVIEW>"
    assert messages.who("api:<!channel>") == "&lt;!channel&gt;"
