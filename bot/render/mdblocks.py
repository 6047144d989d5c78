"""Markdown's block structure, line by line (pure): what kind of line one is, and the blocks
mrkdwn lacks (tables, setext headings) rewritten before ``bot.render.mrkdwn`` reads each line."""

from __future__ import annotations

import re

HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
BOLD = re.compile(r"\*\*([^\n]+?)\*\*|__([^\n]+?)__")
BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+(?=\S)")
QUOTES = re.compile(r"^(?: {0,3}>[ \t]?)+")
RULE = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
BREAK = re.compile(r"(?i)<br\s*/?>")
_ROW = re.compile(r" {0,3}\|.*\|[ \t]*")  # a table's row: | a | b |
_UNDERLINE = re.compile(r" {0,3}(?:=+|-+)[ \t]*")  # a setext heading's: Title / =====
_ORDERED = re.compile(r"^[ \t]*[0-9]{1,9}[.)][ \t]")
_DIVIDER = re.compile(r" {0,3}\|?(?:[ \t]*:?-+:?[ \t]*\|)+(?:[ \t]*:?-+:?[ \t]*)?")


def tables(lines: list[str]) -> list[str]:
    """Tables (a header row, a ``|---|`` divider, rows) as code blocks with their columns
    lined up: mrkdwn has no tables. Code fences are left as they are."""
    out, at, fenced = [], 0, False
    while at < len(lines):
        line = lines[at]
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and _ROW.fullmatch(line) and at + 1 < len(lines):
            if _DIVIDER.fullmatch(lines[at + 1]) and "-" in lines[at + 1]:
                end = at + 2
                while end < len(lines) and _ROW.fullmatch(lines[end]):
                    end += 1
                out += ["```", *_aligned([lines[at], *lines[at + 2 : end]]), "```"]
                at = end
                continue
        out.append(line)
        at += 1
    return out


def setext(lines: list[str]) -> list[str]:
    """Setext headings (a line of text underlined with ``===`` or ``---``) as ``#`` headings,
    so they read as headings do, not as text over a rule. Code fences are left as they are."""
    out: list[str] = []
    fenced, at = False, 0
    while at < len(lines):
        line = lines[at]
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif (
            not fenced
            and at + 1 < len(lines)
            and _UNDERLINE.fullmatch(lines[at + 1])
            and _paragraph(line)
        ):
            first = len(out)  # the paragraph's lines: each a line of the heading
            while first > 0 and _paragraph(out[first - 1]):
                first -= 1
            out[first:] = [f"# {text.strip()}" for text in [*out[first:], line]]
            at += 2
            continue
        out.append(line)
        at += 1
    return out


def _paragraph(line: str) -> bool:
    """Is ``line`` a paragraph's text (not a heading, list item, quote, rule or fence)?"""
    plain = line.strip()
    return bool(plain) and not (
        HEADING.match(line) or BULLET.match(line) or _ORDERED.match(line)
        or QUOTES.match(line) or RULE.fullmatch(line) or plain.startswith(("```", "|"))
    )  # fmt: skip


def _aligned(rows: list[str]) -> list[str]:
    return aligned([[_plain_cell(c) for c in r.strip().strip("|").split("|")] for r in rows])


def aligned(cells: list[list[str]]) -> list[str]:
    """A table's rows of cells as lines, its columns lined up (for a code block)."""
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(max(map(len, cells)))]
    return [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in cells]


def _plain_cell(cell: str) -> str:
    """A cell's words: its emphasis and code marks go (a code block shows them as typed), a
    ``<br>`` is a space."""
    cell = BOLD.sub(lambda m: m[1] or m[2], BREAK.sub(" ", cell).strip())
    return cell.replace("`", "")
