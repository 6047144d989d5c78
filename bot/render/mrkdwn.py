"""Markdown and HTML as Slack mrkdwn, mrkdwn escaping, and text cut or split to a limit (pure)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

from flows.text import MENTION_CLOSE, MENTION_OPEN, MENTIONABLE, clean

_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_ITALIC = re.compile(r"(?<![*\w])\*(?![\s*])(.+?)(?<![\s*])\*(?![*\w])")  # *x*; **x** is bold
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+(?=\S)")
_QUOTE = re.compile(r"^ {0,3}>[ \t]?")
_LINK = re.compile(r"!?\[([^\]\n]+)\]\(([^)\s]+)\)")  # an image too: a link to it
_URL = re.compile(r"(https?|mailto):")
_ESCAPED = re.compile(r"\\([\\`*_\[\]()#])")  # Markdown's backslash escapes (``flows.quote``)
# Escaped characters wait as noncharacters meanwhile (``clean`` takes those out of whatever
# people type, so a typed character never collides with a waiting one).
_HIDE = {c: chr(0xFDD2 + i) for i, c in enumerate("\\`*_[]()#")}
_SHOW = {v: k for k, v in _HIDE.items()}
_HIDDEN = re.compile(f"[{''.join(_SHOW)}]")
_MENTION = re.compile(f"{MENTION_OPEN}([^{MENTION_CLOSE}]*){MENTION_CLOSE}")
_Rule = tuple[str, str | Callable[[re.Match[str]], str]]
# A link and a preformatted block wait as noncharacters too while the other tags go.
_OPEN, _CLOSE, _PRE = "\ufddb", "\ufddc", "\ufddd"
_WAITING = re.compile(f"[{_OPEN}{_CLOSE}{_PRE}]")
_HREF = re.compile(r"""(?is)<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')[^>]*>(.*?)</a\s*>""")
_PRE_BLOCK = re.compile(r"(?is)<pre\b[^>]*>(.*?)</pre\s*>")
_HTML_RULES: list[_Rule] = [
    (r"(?is)<(script|style)\b.*?</\1\s*>", ""),
    (r"(?is)<h[1-6]\b[^>]*>(.*?)</h[1-6]\s*>", lambda m: f"\n*{m.group(1).strip()}*\n"),
    (r"(?i)</?(b|strong)\b[^>]*>", "*"),
    (r"(?i)</?(i|em)\b[^>]*>", "_"),
    (r"(?i)<li\b[^>]*>", "\n• "),
    (r"(?i)</t[dh]\s*>(?=\s*<t[dh]\b)", " | "),  # cells of a row, side by side
    (r"(?i)<br\s*/?>|</?(p|div|ul|ol|tr|table|pre|blockquote)\b[^>]*>", "\n"),
    (r"<[^>]*>", ""),
]


def cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit - 1`` characters and an ellipsis if it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def literal(text: str) -> str:
    """Text for mrkdwn that shows as it is: ``&<>`` escaped, so no mention, broadcast or link
    written in it goes live (nor a ``flows.mention`` mark: ``clean`` drops it). Text a person
    typed goes in a text object with ``verbatim: true`` as well, so Slack does not link it
    either."""
    return _escape(clean(text))


def _live(text: str) -> str:
    """The mentions a flow's author asked for (``flows.mention``) as Slack's syntax."""

    def slack(found: re.Match[str]) -> str:
        target = found[1]
        if not MENTIONABLE.fullmatch(target):
            return target
        if target in ("here", "channel", "everyone"):
            return f"<!{target}>"
        return f"<!subteam^{target}>" if target.startswith("S") else f"<@{target}>"

    return _MENTION.sub(slack, text).replace(MENTION_OPEN, "").replace(MENTION_CLOSE, "")


def _hide(text: str) -> str:
    """Escaped characters out of the way of the Markdown rules (``_unhide`` brings them back)."""
    return _ESCAPED.sub(lambda m: _HIDE[m[1]], text)


def _unhide(text: str) -> str:
    return _HIDDEN.sub(lambda m: _SHOW[m[0]], text)


def _lines(text: str) -> list[str]:
    """Markdown's lines: broken at line feeds and carriage returns only (``str.splitlines``
    would break at U+2028 and other characters people may type inside a line)."""
    return re.split(r"\r\n|\r|\n", text)


def split_heading(text: str) -> tuple[str | None, str]:
    """A Markdown text that opens with a heading: the heading's words (for a header block) and
    the rest; else None and the text as it was."""
    lines = _lines(text.strip())
    found = _HEADING.match(lines[0]) if lines else None
    if found is None:
        return None, text
    words = _hide(found[1])
    words = _LINK.sub(lambda m: m.group(1), _BOLD.sub(lambda m: m.group(1) or m.group(2), words))
    words = clean(_unhide(words.replace("`", ""))).strip()  # plain text: no mention marks
    return words or None, "\n".join(lines[1:]).strip()


def _links(line: str) -> str:
    """``[label](url)`` as a Slack link (other targets as "label (url)"), the rest escaped."""
    parts = _LINK.split(line)  # text, label, url, text, label, url, ..., text
    out = [_escape(parts[0])]
    for at in range(1, len(parts), 3):
        label, url = _escape(parts[at]), _escape(parts[at + 1])
        out.append(f"<{url}|{label}>" if _URL.match(url) else f"{label} ({url})")
        out.append(_escape(parts[at + 2]))
    return "".join(out)


def markdown_to_mrkdwn(text: str) -> str:
    """Headings become bold lines (mrkdwn has none); ``**bold**``, ``*italic*``, links and
    images (a link to the image), ``> quotes`` and ``- lists`` are translated; a code fence
    keeps its code and drops its language.

    Everything else is escaped: a raw Slack sequence (``<!channel>``, ``<@U…>``, ``<url|x>``)
    shows as text, as it would in kodosumi's page, so a value a flow puts into its Markdown
    cannot ping a channel. Backslash escapes (``flows.quote``) show the character itself; the
    mentions ``flows.mention`` marks are live."""
    lines, fenced = [], False
    for line in _lines(text):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            lines.append("```")
        elif not fenced:
            lines.append(_markdown_line(_hide(line)))
        else:
            lines.append(_escape(line))
    return _live(_unhide("\n".join(lines).strip()))


def _markdown_line(line: str) -> str:
    quoted = _QUOTE.match(line)
    if quoted:  # mrkdwn's quote is a bare ">" that opens the line
        return "> " + _markdown_line(line[quoted.end() :])
    line = _BULLET.sub(lambda m: f"{m[1]}• ", line)
    line = _ITALIC.sub(lambda m: f"_{m[1]}_", line)
    line = _BOLD.sub(lambda m: f"*{m.group(1) or m.group(2)}*", line)
    return _links(_HEADING.sub(lambda m: f"*{m.group(1).replace('*', '')}*", line))


def html_to_mrkdwn(text: str) -> str:
    """Tags become mrkdwn marks or line breaks, or go: ``<a href>`` a link (web and mail
    addresses only), ``<pre>`` a code block with its spacing; entities are decoded, then
    re-escaped."""
    blocks: list[str] = []

    def pre(found: re.Match[str]) -> str:
        code = html.unescape(re.sub(r"<[^>]*>", "", found[1])).strip("\n")
        blocks.append(f"\n```\n{_escape(code)}\n```\n")
        return _PRE

    text = _PRE_BLOCK.sub(pre, _WAITING.sub("", text))
    text = re.sub(r"\s+", " ", text)  # as in a browser: only tags make line breaks
    text = _HREF.sub(_anchor, text)
    for pattern, replacement in _HTML_RULES:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r" *\n *", "\n", _escape(html.unescape(text)))
    text = text.replace(_OPEN, "<").replace(_CLOSE, ">")
    text = re.sub(_PRE, lambda _: blocks.pop(0), text)
    return _live(re.sub(r"\n{3,}", "\n\n", text).strip())


def _anchor(found: re.Match[str]) -> str:
    url = html.unescape(found[1] if found[1] is not None else found[2]).strip()
    label = re.sub(r"<[^>]*>", "", found[3]).strip()
    if not _URL.match(url) or any(c in url for c in "<>| "):
        return f"{label} ({url})" if label else url
    shown = label.replace("|", "¦") or url
    return f"{_OPEN}{url}|{shown}{_CLOSE}"


_MARKS = re.compile(r"(?i)</?(?:b|strong|i|em|u|code|span|p|div|small)\b[^<>]*>")


def unmarked(message: str) -> str:
    """An error message as the plain text Slack shows it in: kodosumi renders its messages as
    HTML, so apps write ``<br/>`` and ``<b>`` into them; those tags go (a line break a space)
    and entities are decoded. Anything else that looks like a tag (``x < 10 > y``) stays."""
    if "<" not in message and "&" not in message:
        return message
    text = _MARKS.sub("", re.sub(r"(?i)\s*<br\s*/?>\s*", " ", message))
    return html.unescape(text)


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
