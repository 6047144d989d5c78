"""Markdown and HTML as Slack mrkdwn, mrkdwn escaping, and text cut or split to a limit (pure)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

_SLACK_SEQ = re.compile(r"(<(?:[@#!][^<>|\s]+|(?:https?|mailto):[^<>|\s]+)(?:\|[^<>]*)?>)")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_URL = re.compile(r"(https?|mailto):")
_Rule = tuple[str, str | Callable[[re.Match[str]], str]]
_HTML_RULES: list[_Rule] = [
    (r"(?is)<(script|style)\b.*?</\1\s*>", ""),
    (r"(?is)<h[1-6]\b[^>]*>(.*?)</h[1-6]\s*>", lambda m: f"\n*{m.group(1).strip()}*\n"),
    (r"(?i)</?(b|strong)\b[^>]*>", "*"),
    (r"(?i)</?(i|em)\b[^>]*>", "_"),
    (r"(?i)<li\b[^>]*>", "\n• "),
    (r"(?i)<br\s*/?>|</?(p|div|ul|ol|tr|table|pre|blockquote)\b[^>]*>", "\n"),
    (r"<[^>]*>", ""),
]


def cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit - 1`` characters and an ellipsis if it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn_escape(text: str) -> str:
    """Escapes ``&<>`` but keeps Slack's own sequences: mentions, ``<!here>``, links."""
    parts = _SLACK_SEQ.split(text)
    return "".join(p if i % 2 else _escape(p) for i, p in enumerate(parts))


def _link(m: re.Match[str]) -> str:
    label, url = m.group(1), m.group(2)
    return f"<{url}|{label}>" if _URL.match(url) else f"{label} ({url})"


def markdown_to_mrkdwn(text: str) -> str:
    """Headings become bold lines (mrkdwn has none); ``**bold**`` and links are translated."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            line = _LINK.sub(_link, _BOLD.sub(lambda m: f"*{m.group(1) or m.group(2)}*", line))
            line = _HEADING.sub(lambda m: f"*{m.group(1).replace('*', '')}*", line)
        lines.append(line)
    return mrkdwn_escape("\n".join(lines)).strip()


def html_to_mrkdwn(text: str) -> str:
    """Tags become mrkdwn marks or line breaks, or go; entities are decoded, then re-escaped."""
    text = re.sub(r"\s+", " ", text)  # as in a browser: only tags make line breaks
    for pattern, replacement in _HTML_RULES:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r" *\n *", "\n", _escape(html.unescape(text)))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def chunks(text: str, limit: int) -> Iterator[str]:
    """``text`` in non-blank pieces of at most ``limit`` characters, split at a line break or
    else a space where one falls in the piece."""
    while len(text) > limit:
        at = text.rfind("\n", 0, limit + 1)
        at = at if at > 0 else text.rfind(" ", 0, limit + 1)
        at = at if at > 0 else limit
        if text[:at].strip():
            yield text[:at].rstrip()
        text = text[at:].lstrip()
    if text.strip():
        yield text
