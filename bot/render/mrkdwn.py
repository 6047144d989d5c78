"""Markdown and HTML as Slack mrkdwn, mrkdwn escaping, and text cut or split to a limit (pure)."""

from __future__ import annotations

import html
import re
import textwrap
from bisect import bisect_right
from collections.abc import Callable, Iterator

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
_URL = re.compile(r"(https?|mailto):")
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
_Rule = tuple[str, str | Callable[[re.Match[str]], str]]
# HTML's links and preformatted blocks, finished, wait as a numbered noncharacter mark while
# the other tags go (one a tag took with it is gone with it).
_WAIT = "\ufddb"
# Markdown's code spans and links wait as a numbered mark while emphasis is read around them.
_SLOT = "\ufddc"
_FOLD = re.compile(r"(?i)</?(?:details|summary)\b[^<>]{0,200}>")  # a folded part: shown open
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^\s<>|]{1,2000})>")
_SLOTTED = re.compile(f"{_SLOT}([0-9]+){_SLOT}")
_WAITING = re.compile(f"{_WAIT}([0-9]+){_WAIT}")
_HREF = re.compile(
    r"""(?is)<a\b[^<>]{0,500}?(?<![\w-])href\s*=\s*(?:"([^"<>]{0,2000})"|'([^'<>]{0,2000})')"""
    r"[^<>]{0,500}>(.{0,1000}?)</a\s*>"
)
_HTML_RULES: list[_Rule] = [
    (r"(?is)<h[1-6]\b[^<>]{0,500}>(.{0,300}?)</h[1-6]\s*>", lambda m: f"\n*{m[1].strip()}*\n"),
    (r"(?i)</?(b|strong)\b[^<>]*>", "*"),
    (r"(?i)</?(i|em)\b[^<>]*>", "_"),
    (r"(?i)</?(s|del|strike)\b[^<>]*>", "~"),
    (r"(?i)</?code\b[^<>]*>", "`"),  # inline code (a <pre> block is code already)
    (r"(?i)<hr\b[^<>]*>", "\n" + "\u2500" * 20 + "\n"),
    (r"(?i)</t[dh]\s*>(?=\s*<t[dh]\b)", " | "),  # cells of a row, side by side
    (r"(?i)<br\s*/?>|</?(p|div|ul|ol|tr|table|pre|blockquote)\b[^<>]*>", "\n"),
    (r"<[^<>]*>", ""),
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
    label, url = _escape(label), _escape(url)
    return f"<{url}|{label}>" if _URL.match(url) else f"{label} ({url})"


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
            lines.append(_escape(line))
    return _live(_unhide("\n".join(lines).strip()))


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
        kept.append(_escape(span[1]) if span[1] else _link(span[2], span[3]))
        return f"{_SLOT}{len(kept) - 1}{_SLOT}"

    def auto(found: re.Match[str]) -> str:
        kept.append(f"<{_escape(found[1])}>")
        return f"{_SLOT}{len(kept) - 1}{_SLOT}"

    text = _REFERENCE.sub(_referenced, text.replace(_SLOT, ""))
    linked = _LINKED_IMAGE.sub(lambda m: m[1] or f"[{m[2] or 'image'}]", text)
    words = _AUTOLINK.sub(auto, _SPAN.sub(keep, linked))
    words = _FOLD.sub("", BREAK.sub("\n", words))
    marked = _emphasis(_escape(words))
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


def html_to_mrkdwn(text: str) -> str:
    """Tags become mrkdwn marks or line breaks, or go: ``<a href>`` a link (web and mail
    addresses only), ``<pre>`` a code block with its spacing; ``<script>`` and ``<style>`` go
    with what they hold; entities are decoded, then re-escaped."""
    waiting: list[str] = []

    def wait(finished: str) -> str:
        waiting.append(finished)
        return f"{_WAIT}{len(waiting) - 1}{_WAIT}"

    text = _dropped(_html_source(text).replace(_WAIT, ""), ("script", "style"))
    text = _pre_blocks(text, lambda code: wait(f"\n```\n{_escape(code)}\n```\n"))
    text = re.sub(r"\s+", " ", text)  # as in a browser: only tags make line breaks
    text = _list_items(_HREF.sub(lambda m: wait(_anchor(m)), text))
    for pattern, replacement in _HTML_RULES:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r" *\n *", "\n", _escape(html.unescape(text)))
    text = _WAITING.sub(lambda m: waiting[int(m[1])], text)
    return _live(re.sub(r"\n{3,}", "\n\n", text).strip())


_LIST_TAG = re.compile(r"(?i)<(/?)(ol|ul|li)\b([^<>]{0,500})>")
_START = re.compile(r"""(?i)(?<![\w-])start\s*=\s*["']?\s*(-?[0-9]{1,9})""")


def _list_items(text: str) -> str:
    """Each list item on a line of its own: numbered in an ``<ol>`` (from its ``start``), as a
    browser numbers it, else a bullet."""
    counts: list[int | None] = []  # per open list, innermost last: an <ol>'s last number

    def item(found: re.Match[str]) -> str:
        closing, tag = found[1], found[2].lower()
        if tag == "li":
            if closing:
                return ""
            if counts and counts[-1] is not None:
                counts[-1] += 1
                return f"\n{counts[-1]}. "
            return "\n• "
        if closing:
            if counts:
                counts.pop()
        elif tag == "ol":
            start = _START.search(found[3])
            counts.append(int(start[1]) - 1 if start else 0)
        else:
            counts.append(None)
        return "\n"

    return _LIST_TAG.sub(item, text)


_IMAGE = re.compile(r"(?i)<img\b[^<>]*>")
_ATTRIBUTE = r"""(?is)(?<![\w-])%s\s*=\s*(?:"([^"<>]{0,2000})"|'([^'<>]{0,2000})')"""
_SRC, _ALT = re.compile(_ATTRIBUTE % "src"), re.compile(_ATTRIBUTE % "alt")


def _image(found: re.Match[str]) -> str:
    """An image on the web as a link to it, named by its alt text (as a Markdown image is);
    any other (a data URI) goes."""
    src, alt = _SRC.search(found[0]), _ALT.search(found[0])
    url = (src[1] or src[2] or "").strip() if src else ""
    scheme = re.match(r"(?i)https?://", url)
    if scheme is None:
        return ""
    url = scheme[0].lower() + url[scheme.end() :].replace('"', "&quot;")
    name = (alt[1] or alt[2] or "").strip() if alt else ""
    return f'<a href="{url}">{name or "image"}</a>'


def _html_source(text: str) -> str:
    """The part of ``text`` converted: its images as links (Slack shows none inline; a data
    URI, which would use up the part converted, goes), its first ``MAX_SOURCE`` characters,
    less a tag the cut left open (its attributes are no text to show)."""
    text = _IMAGE.sub(_image, text)
    if len(text) <= MAX_SOURCE:
        return text
    kept = text[:MAX_SOURCE]
    opened = kept.rfind("<")
    if opened > kept.rfind(">") and re.match(r"<[A-Za-z/!?]", text[opened : opened + 2]):
        closes, reopens = text.find(">", opened), text.find("<", opened + 1)
        if closes >= 0 and (reopens < 0 or closes < reopens):
            return kept[:opened]  # a tag the cut split: its attributes are no text to show
    return kept


def _dropped(text: str, tags: tuple[str, ...]) -> str:
    """``text`` without each ``<tag ...>...</tag>`` of ``tags`` (and what it holds); found by
    scanning once, not by a pattern that would look ahead from every opening."""
    lower, out, at = text.lower(), [], 0
    while True:
        found = [(i, t) for t in tags if (i := lower.find(f"<{t}", at)) >= 0]
        if not found:
            break
        start, tag = min(found)
        close = lower.find(f"</{tag}", start)
        end = lower.find(">", close) if close >= 0 else -1
        if end < 0:  # never closed: the tag alone goes, with the other tags
            break
        out.append(text[at:start])
        at = end + 1
    out.append(text[at:])
    return "".join(out)


def _pre_blocks(text: str, wait: Callable[[str], str]) -> str:
    """Each ``<pre>...</pre>`` as ``wait`` keeps its code (tags out, spacing kept)."""
    lower, out, at = text.lower(), [], 0
    while (start := lower.find("<pre", at)) >= 0:
        opened = lower.find(">", start)
        close = lower.find("</pre", opened) if opened >= 0 else -1
        end = lower.find(">", close) if close >= 0 else -1
        if end < 0:
            break
        if lower[start + 4 : start + 5] not in (">", " ", "\t", "\n", "\r", "/"):
            out.append(text[at : start + 4])  # <prelude>: some other tag
            at = start + 4
            continue
        code = html.unescape(re.sub(r"<[^<>]*>", "", text[opened + 1 : close])).strip("\n")
        out.append(text[at:start] + wait(code))
        at = end + 1
    out.append(text[at:])
    return "".join(out)


def _anchor(found: re.Match[str]) -> str:
    """A link as mrkdwn, finished (escaped): it waits while the rest is decoded."""
    url = html.unescape(found[1] if found[1] is not None else found[2]).strip()
    label = " ".join(html.unescape(re.sub(r"<[^<>]*>", "", found[3])).split())
    if not _URL.match(url) or any(c in url for c in "<>| ") or not url.isprintable():
        return _escape(f"{label} ({url})" if label else url)
    return f"<{_escape(url)}|{_escape(label.replace('|', '¦') or url)}>"


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
