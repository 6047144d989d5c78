"""Slack's request signatures, checked strictly (pure).

Slack signs ``v0:{timestamp}:{raw body}`` with the app's signing secret (HMAC-SHA256) and sends
``X-Slack-Signature: v0=<hex>`` with ``X-Slack-Request-Timestamp``. slack_sdk's verifier raises
on a timestamp that is not an integer (``abc``, ``1e9``, ``0x10``, ``12.5``, empty) instead of
saying no, which turned forged requests into 500s. Here every request gets a yes or a no: the
timestamp must be ASCII digits and recent, the signature the right length of hex, and the
comparison takes the same time wherever it differs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

MAX_AGE = 300  # seconds: Slack's own limit on a request's age (replays)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # digits only: no sign, exponent, space or "0x"
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class Verifier:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a signing secret is required")
        self._key = secret.encode()

    def sign(self, timestamp: str, body: bytes) -> str:
        base = b"v0:" + timestamp.encode("ascii") + b":" + body
        return "v0=" + hmac.new(self._key, base, hashlib.sha256).hexdigest()

    def valid(self, headers: Mapping[str, str], body: bytes, now: float) -> bool:
        """Is this request signed by Slack, less than five minutes ago (or ahead)?"""
        timestamp = headers.get("X-Slack-Request-Timestamp") or ""
        signature = headers.get("X-Slack-Signature") or ""
        if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
            return False
        if abs(now - int(timestamp)) > MAX_AGE:
            return False
        return hmac.compare_digest(self.sign(timestamp, body), signature)
