"""Requests signed the way Slack signs them, so Bolt accepts them as genuine.

For tests and the local stand-in page: the bodies are form-encoded as Slack sends them, and the
signature is Slack's ``v0`` scheme over the exact bytes sent.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

FORM = "application/x-www-form-urlencoded"
_TRIGGERS = itertools.count(1)
# Loopback port 9 refuses connections: a request that forgot its response URL fails fast and
# never reaches the real Slack. Pass ``FakeSlack.response_url()`` to see what was posted.
UNSET_RESPONSE_URL = "http://127.0.0.1:9/response/unset"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``v0=`` and the hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` under the signing secret."""
    base = b"v0:%d:" % timestamp + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: bytes, *, timestamp: int | None = None, content_type: str = FORM
) -> dict[str, str]:
    """The headers Slack sends with ``body``; ``timestamp`` defaults to now."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(secret, ts, body),
    }


def slash_command_body(
    command: str,
    text: str,
    *,
    user_id: str,
    channel_id: str,
    trigger_id: str | None = None,
    team_id: str = "T0001",
    response_url: str = UNSET_RESPONSE_URL,
    user_name: str | None = None,
    channel_name: str | None = None,
) -> bytes:
    """The form body of a slash command invocation, with the fields Slack sends; each gets a
    trigger id of its own unless one is given, as on Slack."""
    trigger_id = trigger_id or f"{int(time.time())}.{next(_TRIGGERS)}.fake-trigger"
    fields = {
        "token": "unused-verification-token",
        "team_id": team_id,
        "team_domain": "test",
        "channel_id": channel_id,
        "channel_name": channel_name or channel_id.lower(),
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return urlencode(fields).encode()


def interaction_body(payload: dict[str, Any]) -> bytes:
    """The form body of an interaction (``block_actions``, ``view_submission``, ...)."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


def event_body(event: dict[str, Any], team_id: str = "T0001") -> bytes:
    """The JSON body of an Events API callback carrying ``event`` (send it as JSON)."""
    envelope = {
        "token": "unused-verification-token",
        "team_id": team_id,
        "api_app_id": "A0001",
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{next(_TRIGGERS):08d}",
        "event_time": int(time.time()),
    }
    return json.dumps(envelope, separators=(",", ":")).encode()
