"""What the bot puts in a modal's ``private_metadata`` comes back sealed (pure).

Slack hands ``private_metadata`` back with the submission, but whoever can send a signed
request could send any; the entry form's metadata names the channel a run starts in, the lock
form's the lock it answers. So the bot signs it (HMAC-SHA256 under a key derived from its own
secret) and takes back only what it signed: tampered metadata is refused, never obeyed. Every
bot process with the same secret opens the others' seals.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

_MAC = 16  # bytes of the HMAC kept: 128 bits


class Seal:
    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a secret is required")
        self._key = hmac.new(secret.encode(), b"lockstep private_metadata", hashlib.sha256).digest()

    def _mac(self, text: str) -> str:
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).digest()[:_MAC]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def close(self, text: str) -> str:
        """``text`` with its seal: ``<mac>.<text>``."""
        return f"{self._mac(text)}.{text}"

    def open(self, sealed: str) -> str | None:
        """The text this seal closed, or None if it was not sealed here or was changed."""
        mac, dot, text = sealed.partition(".")
        if not dot:
            return None
        try:
            return text if hmac.compare_digest(mac.encode(), self._mac(text).encode()) else None
        except UnicodeEncodeError:  # a lone surrogate: nothing this seal closed
            return None
