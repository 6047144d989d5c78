"""Installs through OAuth, for the fake Slack: workspaces (``add``), Slack's authorize page
(``GET /oauth/v2/authorize``: the person approves at once, in the workspace the ``team``
parameter names, and is sent back to the app's redirect URL with a code and the app's
state), ``oauth.v2.access`` (a code, or with token rotation a refresh token, becomes a bot
token of that workspace: each install its own), and revocation. Which workspace each token
speaks for is known, so the fake answers ``auth.test`` as that workspace and refuses a revoked
token as Slack does (``token_revoked``)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from bot.fake.wire import Args, Refused, need

AUTHORIZE_PATH = "/oauth/v2/authorize"
EXPIRES_IN = 43_200  # seconds a rotating token lives (Slack's 12 hours)


@dataclass(frozen=True)
class Workspace:
    team_id: str
    name: str
    enterprise_id: str | None = None


class FakeOAuth:
    def __init__(self, bot_user: str, app_id: str) -> None:
        self.bot_user, self.app_id = bot_user, app_id
        self.client_id = "1111.2222"  # the app's credentials, as Slack shows them
        self.client_secret = "fake-client-secret"
        self.redirect_url = ""  # the app's configured redirect URL (tests set it)
        self.rotating = False  # token rotation on: tokens expire, with refresh tokens
        self.expires_in = EXPIRES_IN  # seconds a rotating token lives
        self.workspaces: dict[str, Workspace] = {}
        self._tokens: dict[str, str] = {}  # bot token -> team
        self._refresh: dict[str, str] = {}  # refresh token -> team
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (team, scopes)
        self._revoked: set[str] = set()
        self._serial = itertools.count(1)

    def add(self, team_id: str, name: str, enterprise_id: str | None = None) -> Workspace:
        found = self.workspaces[team_id] = Workspace(team_id, name, enterprise_id)
        return found

    def tokens_of(self, team_id: str) -> list[str]:
        """The bot tokens issued for a workspace, oldest first."""
        return [t for t, team in self._tokens.items() if team == team_id]

    def team_of(self, token: str) -> str | None:
        return self._tokens.get(token)

    def revoke(self, team_id: str) -> None:
        """The workspace's tokens stop working (uninstalled, or revoked)."""
        self._revoked.update(self.tokens_of(team_id))
        self._refresh = {r: t for r, t in self._refresh.items() if t != team_id}

    def refused(self, token: str) -> bool:
        return token in self._revoked

    async def authorize(self, request: web.Request) -> web.Response:
        """The person approves the app's scopes in workspace ``team`` and goes back."""
        query = request.query
        team = self.workspaces.get(query.get("team", ""))
        if query.get("client_id") != self.client_id or team is None:
            return web.Response(status=400, text="invalid client_id or team")
        back = query.get("redirect_uri") or self.redirect_url
        if not back:
            return web.Response(status=400, text="no redirect URL")
        code = f"code-{next(self._serial)}"
        self._codes[code] = (team.team_id, query.get("scope", ""))
        target = back + "?" + urlencode({"code": code, "state": query.get("state", "")})
        raise web.HTTPFound(target)

    def access(self, args: Args) -> Args:
        """``oauth.v2.access``: the app's credentials (HTTP Basic or fields), and a code or a
        refresh token."""
        if (args.get("client_id"), args.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            raise Refused("invalid_client_id")
        if args.get("grant_type") == "refresh_token":
            team_id = self._refresh.pop(need(args, "refresh_token", "invalid_refresh_token"), None)
            if team_id is None:
                raise Refused("invalid_refresh_token")
            return self._issued(team_id, "")
        found = self._codes.pop(need(args, "code", "invalid_code"), None)
        if found is None:
            raise Refused("invalid_code")
        return self._issued(*found)

    def _issued(self, team_id: str, scopes: str) -> Args:
        team = self.workspaces[team_id]
        token = f"xoxb-{team_id}-{next(self._serial)}"
        self._tokens[token] = team_id
        answer: Args = {
            "access_token": token, "token_type": "bot", "scope": scopes,
            "bot_user_id": self.bot_user, "app_id": self.app_id,
            "team": {"id": team.team_id, "name": team.name},
            "enterprise": {"id": team.enterprise_id, "name": team.enterprise_id}
            if team.enterprise_id else None,
            "is_enterprise_install": False, "authed_user": {"id": "UINSTALLER"},
        }  # fmt: skip
        if self.rotating:
            refresh = f"xoxe-1-{team_id}-{next(self._serial)}"
            self._refresh[refresh] = team_id
            answer |= {"refresh_token": refresh, "expires_in": self.expires_in}
        return answer
