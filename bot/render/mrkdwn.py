"""Markdown as Slack mrkdwn, mrkdwn escaping, and text cut or split to a limit (pure); HTML
is ``bot.render.htmltext``."""

from __future__ import annotations

import html
import re
import textwrap
from bisect import bisect_right
from collections.abc import Iterator

from bot.render.mdblocks import BOLD, BREAK, BULLET, HEADING, QUOTES, RULE, setext, tables
from flows.text import MENTION_CLOSE, MENTION_OPEN, MENTIONABLE, clean

MAX_SOURCE = 20_000  # characters of Markdown or HTML converted; what Slack shows is shorter
_BOLD_ITALIC = re.compile(r"\*\*\*(?=\S)([^*\n]+?)(?<=\S)\*\*\*")  # ***x***
_ITALIC = re.compile(r"(?<![*\w])\*(?![\s*])([^*\n]+?)(?<![\s*])\*(?![*\w])")  # *x*, not **x**
_STRIKE = re.compile(r"~~(?=\S)([^~\n]+?)(?<=\S)~~")
RULE_LINE = "─" * 20
# What emphasis leaves alone: a code span, and a link (an image too: a link to it)
_SPAN = re.compile(  # a link's target may hold balanced parentheses (Wikipedia's do)
    r"(`[^`\n]{0,3000}`)|!?\[([^\]\n]{1,300})\]\(((?:[^()\s]|\([^()\s]{0,500}\)){1,2000})\)"
)
_LINKED_IMAGE = re.compile(  # [![alt](image)](target): a link to the target, labelled alt
    r"(`[^`\n]{0,3000}`)|\[!\[([^\]\n]{0,300})\]\((?:[^()\s]|\([^()\s]{0,500}\)){1,2000}\)\](?=\()"
)
# a character reference (&amp;, &nbsp;, &#x2705;) outside code: the character it names
_REFERENCE = re.compile(
    r"(`[^`\n]{0,3000}`)|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
)
URL = re.compile(r"(https?|mailto):")
# ...](data:image/png;...), ...](<data:...>), ...](data:... "a title")
_DATA_TARGET = re.compile(
    r"""\]\([ \t]*(?:<data:[^<>\n]*>|data:[^()\s<>]*)(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'))?[ \t]*\)""",
    re.IGNORECASE,
)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_ESCAPED = re.compile(r"\\([\\`*_\[\]()#<&])")  # Markdown's backslash escapes (``flows.quote``)
# Escaped characters wait as noncharacters meanwhile (``clean`` takes those out of whatever
# people type, so a typed character never collides with a waiting one).
_HIDE = {c: chr(0xFDD2 + i) for i, c in enumerate("\\`*_[]()#")} | {"<": "\ufddd", "&": "\ufdde"}
_SHOW = {v: k for k, v in _HIDE.items()}  # "<", "&" come back as "&lt;", "&amp;" in mrkdwn
_HIDDEN = re.compile(f"[{''.join(_SHOW)}]")
_MENTION = re.compile(f"{MENTION_OPEN}([^{MENTION_CLOSE}]*){MENTION_CLOSE}")
# Markdown's code spans and links wait as a numbered mark while emphasis is read around them.
_SLOT = "\ufddc"
_FOLD = re.compile(r"(?i)</?(?:details|summary)\b[^<>]{0,200}>")  # a folded part: shown open
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^\s<>|]{1,2000})>")
_SLOTTED = re.compile(f"{_SLOT}([0-9]+){_SLOT}")


# a terminal's escape sequence: colours and styles (CSI), a title or a link (OSC), others
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")


def without_ansi(text: str) -> str:
    """``text`` without a terminal's escape sequences (CrewAI's ``verbose`` output, coloured
    logs): kodosumi's page shows their colours, Slack would show their codes."""
    return _ANSI.sub("", text) if "\x1b" in text else text


def as_terminal_shows(text: str) -> str:
    """Printed text as a terminal shows it: a line a carriage return went back over (a progress
    bar redrawn) shows its last drawing."""
    if "\r" not in text:
        return text
    lines = text.replace("\r\n", "\n").split("\n")
    return "\n".join(next((d for d in reversed(ln.split("\r")) if d.strip()), "") for ln in lines)


def cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit - 1`` characters and an ellipsis if it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def literal(text: str) -> str:
    """Text for mrkdwn that shows as it is: ``&<>`` escaped, so no mention, broadcast or link
    written in it goes live (nor a ``flows.mention`` mark: ``clean`` drops it). Text a person
    typed goes in a text object with ``verbatim: true`` as well, so Slack does not link it
    either."""
    return escape(clean(text))


def live(text: str) -> str:
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


def _unhide(text: str, plain: bool = False) -> str:
    """``plain``: for plain text (a header), where "<" needs no escaping."""
    shown = {**_SHOW, _HIDE["<"]: "<" if plain else "&lt;", _HIDE["&"]: "&" if plain else "&amp;"}
    return _HIDDEN.sub(lambda m: shown[m[0]], text)


def _lines(text: str) -> list[str]:
    """Markdown's lines: broken at line feeds and carriage returns only (``str.splitlines``
    would break at U+2028 and other characters people may type inside a line)."""
    return re.split(r"\r\n|\r|\n", text)


def _flush(text: str) -> str:
    """Markdown as written in an indented triple-quoted string, flush left: the indentation
    its lines share dropped (as kodosumi does; tabs and nested lists kept)."""
    return textwrap.dedent(text)


def split_heading(text: str) -> tuple[str | None, str]:
    """A Markdown text that opens with a heading: the heading's words (for a header block) and
    the rest; else None and the text as it was."""
    lines = setext(_lines(_flush(text).strip()))
    found = HEADING.match(lines[0]) if lines else None
    if found is None:
        return None, text
    words = _hide(found[1])
    words = _SPAN.sub(lambda m: m[1] or m[2], BOLD.sub(lambda m: m[1] or m[2], words))
    words = clean(_unhide(words.replace("`", ""), plain=True)).strip()  # no mention marks
    return words or None, "\n".join(lines[1:]).strip()


def _link(label: str, url: str) -> str:
    """``[label](url)`` as a Slack link (other targets as "label (url)"), escaped."""
    label, url = escape(label), escape(url)
    return f"<{url}|{label}>" if URL.match(url) else f"{label} ({url})"


def markdown_to_mrkdwn(text: str) -> str:
    """Headings become bold lines (mrkdwn has none); ``**bold**``, ``*italic*``, links and
    images (a link to the image; to a ``data:`` URI, its label only), ``> quotes`` and
    ``- lists`` are translated; a code fence keeps its code and drops its language, and code
    spans and link targets keep their stars.

    Everything else is escaped: a raw Slack sequence (``<!channel>``, ``<@U…>``, ``<url|x>``)
    shows as text, as it would in kodosumi's page, so a value a flow puts into its Markdown
    cannot ping a channel. Backslash escapes (``flows.quote``) show the character itself; the
    mentions ``flows.mention`` marks are live. Indentation its lines share is dropped (kodosumi's
    apps write Markdown in indented triple-quoted strings)."""
    lines, fenced = [], False
    for line in setext(tables(_lines(_flush(_without_data(text)[:MAX_SOURCE])))):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            lines.append("```")
        elif not fenced:
            lines.append(_markdown_line(_hide(line)))
        else:
            lines.append(escape(line))
    return live(_unhide("\n".join(lines).strip()))


def _without_data(text: str) -> str:
    """Links and images to a ``data:`` URI (an image a flow generated, inline) as their label:
    Slack shows no inline data, and the base64 would fill the message and push what follows
    past the part converted. Code, fenced or in a span, is left as it is."""
    if "data:" not in text.lower():
        return text
    lines, fenced = [], False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            line = _labels_only(line)
        lines.append(line)
    return "\n".join(lines)


def _labels_only(line: str) -> str:
    code = [m.span() for m in _CODE_SPAN.finditer(line)]  # closed code spans, left to right
    starts = [begin for begin, _ in code]
    out, at, low = [], 0, 0
    for target in _DATA_TARGET.finditer(line):
        start = line.rfind("[", max(at, low), target.start())
        low = target.start() + 1  # a "[" before this "]" labels no later target
        if start < 0 or "]" in line[start : target.start()] or line[start - 1 : start] == "\\":
            continue  # no label of its own (an escaped "[" is a bracket, not a link)
        span = bisect_right(starts, start) - 1
        if span >= 0 and start < code[span][1]:
            continue  # inside a code span
        label = line[start + 1 : target.start()]
        if start > at and line[start - 1] == "!":
            start -= 1  # an image: its alt text
        out += [line[at:start], label]
        at = target.end()
    out.append(line[at:])
    return "".join(out)


def _markdown_line(line: str) -> str:
    if RULE.fullmatch(line):
        return RULE_LINE
    quoted = QUOTES.match(line)
    depth = quoted[0].count(">") if quoted else 0  # mrkdwn's quote: a bare ">" opening the line
    line = BULLET.sub(lambda m: f"{m[1]}• ", line[quoted.end() :] if quoted else line)
    heading = HEADING.match(line)
    if heading:
        line = f"*{_inline(heading[1]).replace('*', '')}*"
    else:
        line = _inline(line)
    return "> " * min(depth, 1) + line


def _inline(text: str) -> str:
    """Emphasis and links (``[a](b)``, ``<https://b>``, an image linked to a page as a link to
    the page) and character references (``&amp;``) within a line; code spans and link
    targets as they are; a ``<br>``
    (HTML a browser shows within Markdown, as kodosumi's examples write it) breaks the line, and
    a ``<details>`` part shows open (its tags go). A
    span waits as a numbered mark while emphasis is read, so emphasis around one
    (``**`x`**``, ``**[a](b)**``) is read too."""
    kept: list[str] = []

    def keep(span: re.Match[str]) -> str:
        kept.append(escape(span[1]) if span[1] else _link(span[2], span[3]))
        return f"{_SLOT}{len(kept) - 1}{_SLOT}"

    def auto(found: re.Match[str]) -> str:
        kept.append(f"<{escape(found[1])}>")
        return f"{_SLOT}{len(kept) - 1}{_SLOT}"

    text = _REFERENCE.sub(_referenced, text.replace(_SLOT, ""))
    linked = _LINKED_IMAGE.sub(lambda m: m[1] or f"[{m[2] or 'image'}]", text)
    words = _AUTOLINK.sub(auto, _SPAN.sub(keep, linked))
    words = _FOLD.sub("", BREAK.sub("\n", words))
    marked = _emphasis(escape(words))
    return _SLOTTED.sub(lambda m: kept[int(m[1])], marked)


def _referenced(found: re.Match[str]) -> str:
    """A character reference as the character a browser shows; one Markdown reads (``&#42;``
    for a star) waits hidden, so it shows as itself. A code span stays as it is."""
    if found[1]:
        return found[1]
    return "".join(_HIDE.get(c, c) for c in clean(html.unescape(found[0])))


def _emphasis(text: str) -> str:
    text = _STRIKE.sub(lambda m: f"~{m[1]}~", text)
    text = _ITALIC.sub(lambda m: f"_{m[1]}_", text)
    text = _BOLD_ITALIC.sub(lambda m: f"*_{m[1]}_*", text)
    return BOLD.sub(lambda m: f"*{m[1] or m[2]}*", text)


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


def mrkdwn_chunks(text: str, limit: int) -> Iterator[str]:
    """mrkdwn in pieces of at most ``limit`` characters (``chunks``), a code block split
    between two closed at the end of one and opened again at the start of the next: Slack
    shows an unclosed fence as backticks."""
    opened = False
    for part in chunks(text, limit - 8):
        shown = "```\n" + part if opened else part
        if part.count("```") % 2:
            opened = not opened
        yield shown + "\n```" if opened else shown
