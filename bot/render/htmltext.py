"""HTML as Slack mrkdwn (pure): tags become mrkdwn marks or line breaks, or go; links,
preformatted blocks and tables wait, finished, while the other tags go."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from bot.render.mdblocks import aligned
from bot.render.mrkdwn import MAX_SOURCE, RULE_LINE, URL, escape, live

_Rule = tuple[str, str | Callable[[re.Match[str]], str]]
# HTML's links and preformatted blocks, finished, wait as a numbered noncharacter mark while
# the other tags go (one a tag took with it is gone with it).
_WAIT = "\ufddb"
_WAITING = re.compile(f"{_WAIT}([0-9]+){_WAIT}")
_HREF = re.compile(
    r"""(?is)<a\b[^<>]{0,500}?(?<![\w-])href\s*=\s*(?:"([^"<>]{0,2000})"|'([^'<>]{0,2000})')"""
    r"[^<>]{0,500}>(.{0,1000}?)</a\s*>"
)
# Elements a browser shows as blocks of their own: each begins and ends a line
_BLOCK_TAGS = "|".join(
    "p div ul ol tr table pre blockquote section article header footer nav aside main figure "
    "figcaption dl dt dd address details summary fieldset legend form caption".split()
)
_HTML_RULES: list[_Rule] = [
    (r"(?is)<h[1-6]\b[^<>]{0,500}>(.{0,300}?)</h[1-6]\s*>", lambda m: f"\n*{m[1].strip()}*\n"),
    (r"(?i)</?(b|strong)\b[^<>]*>", "*"),
    (r"(?i)</?(i|em)\b[^<>]*>", "_"),
    (r"(?i)</?(s|del|strike)\b[^<>]*>", "~"),
    (r"(?i)</?code\b[^<>]*>", "`"),  # inline code (a <pre> block is code already)
    (r"(?i)<hr\b[^<>]*>", "\n" + RULE_LINE + "\n"),
    (r"(?i)</t[dh]\s*>(?=\s*<t[dh]\b)", " | "),  # cells of a row, side by side
    (rf"(?i)<br\s*/?>|</?({_BLOCK_TAGS})\b[^<>]*>", "\n"),
    (r"<[^<>]*>", ""),
]


def html_to_mrkdwn(text: str) -> str:
    """Tags become mrkdwn marks or line breaks, or go: ``<a href>`` a link (web and mail
    addresses only), ``<pre>`` a code block with its spacing, a ``<table>`` a code block with
    its columns lined up (as Markdown's tables show); ``<script>`` and ``<style>`` go
    with what they hold; entities are decoded, then re-escaped."""
    waiting: list[str] = []

    def wait(finished: str) -> str:
        waiting.append(finished)
        return f"{_WAIT}{len(waiting) - 1}{_WAIT}"

    text = _dropped(_html_source(text).replace(_WAIT, ""), ("script", "style"))
    text = _quotes(text, lambda quoted: wait(f"\n{quoted}\n"))
    text = _pre_blocks(text, lambda code: wait(f"\n```\n{escape(code)}\n```\n"))
    text = _tables(text, lambda rows: wait(f"\n```\n{escape(rows)}\n```\n"))
    text = re.sub(r"\s+", " ", text)  # as in a browser: only tags make line breaks
    text = _list_items(_HREF.sub(lambda m: wait(_anchor(m)), text))
    for pattern, replacement in _HTML_RULES:
        text = re.sub(pattern, replacement, text)
    text = re.sub(r" *\n *", "\n", escape(html.unescape(text)))
    text = _WAITING.sub(lambda m: waiting[int(m[1])], text)
    return live(re.sub(r"\n{3,}", "\n\n", text).strip())


def _elements(text: str, tag: str, render: Callable[[str, str], str]) -> str:
    """Each ``<tag ...>...</tag>`` in ``text`` replaced by ``render(element, inner)``
    (``element``: from its opening tag to its closing one; ``inner``: what it holds). A longer
    tag name (``<prelude>``, ``<tablet>``) is some other tag, left as it is; one never closed
    ends the search."""
    lower, out, at, name = text.lower(), [], 0, len(tag) + 1
    while (start := lower.find(f"<{tag}", at)) >= 0:
        opened = lower.find(">", start)
        close = lower.find(f"</{tag}", opened) if opened >= 0 else -1
        end = lower.find(">", close) if close >= 0 else -1
        if end < 0:
            break
        if lower[start + name : start + name + 1] not in (">", " ", "\t", "\n", "\r", "/"):
            out.append(text[at : start + name])
            at = start + name
            continue
        out.append(text[at:start] + render(text[start:close], text[opened + 1 : close]))
        at = end + 1
    out.append(text[at:])
    return "".join(out)


def _quotes(text: str, wait: Callable[[str], str]) -> str:
    """Each ``<blockquote>...</blockquote>`` as ``wait`` keeps it: what it holds, converted,
    each line quoted (mrkdwn's ``>``)."""

    def quoted(_: str, inner: str) -> str:
        converted = html_to_mrkdwn(inner)
        lines = (f"> {line}" if line else ">" for line in converted.split("\n"))
        return wait("\n".join(lines)) if converted else "<br>"

    return _elements(text, "blockquote", quoted)


_ROW_TAG = re.compile(r"(?i)<tr\b[^<>]{0,500}>")
_CELL = re.compile(r"(?is)<t[dh]\b[^<>]{0,500}>(.*?)(?:</t[dh]\s*>|(?=<t[dh]\b)|$)")


def _tables(text: str, wait: Callable[[str], str]) -> str:
    """Each ``<table>...</table>`` as ``wait`` keeps its rows: each cell's words, the columns
    lined up (a DataFrame's ``to_html()``, an agent's report). One without cells goes."""

    def lined_up(element: str, _: str) -> str:
        rows = [[_cell(c) for c in _CELL.findall(row)] for row in _ROW_TAG.split(element)]
        rows = [row for row in rows if row]
        return wait("\n".join(aligned(rows))) if rows else "<br>"

    return _elements(text, "table", lined_up)


def _cell(cell: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^<>]*>", " ", cell)).split())


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
    return _elements(
        text, "pre", lambda _, code: wait(html.unescape(re.sub(r"<[^<>]*>", "", code)).strip("\n"))
    )


def _anchor(found: re.Match[str]) -> str:
    """A link as mrkdwn, finished (escaped): it waits while the rest is decoded."""
    url = html.unescape(found[1] if found[1] is not None else found[2]).strip()
    label = " ".join(html.unescape(re.sub(r"<[^<>]*>", "", found[3])).split())
    if not URL.match(url) or any(c in url for c in "<>| ") or not url.isprintable():
        return escape(f"{label} ({url})" if label else url)
    return f"<{escape(url)}|{escape(label.replace('|', '¦') or url)}>"
