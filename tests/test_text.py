"""What people type is cleaned once and shown literally; an author's mentions are explicit."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.render.messages import mention as mention_people
from bot.render.messages import who
from bot.render.mrkdwn import literal, markdown_to_mrkdwn, split_heading
from bot.render.surfaces import progress
from flows import mention, quote
from flows.text import clean, cleaned

TYPED = "<!channel> <!here> <@U0BOSS> <https://evil.example|click here>"


def test_clean_takes_out_only_what_no_one_types() -> None:
    assert clean("plain ascii") == "plain ascii"
    assert clean("a\x00b\x07c\x1bd\x7fe\x85f") == "abcdef"
    assert clean("tab\tline\nwindows\r\nmac\r") == "tab\tline\nwindows\nmac\n"
    assert clean("lone \ud800 surrogate") == "lone  surrogate"
    assert clean("mark \ufdd0here\ufdd1 \ufffe") == "mark here "
    assert (
        clean("Grüße, 日本, ٣, 👍🏽, \u200bzero-width") == "Grüße, 日本, ٣, 👍🏽, \u200bzero-width"
    )
    assert cleaned({"a\x00": ["b\x00", {"c": "d\x00"}], "n": 1}) == {"a": ["b", {"c": "d"}], "n": 1}


@given(st.text())
def test_cleaned_text_is_storable_everywhere(text: str) -> None:
    tidy = clean(text)
    tidy.encode("utf-8")  # no lone surrogates
    assert "\x00" not in tidy and clean(tidy) == tidy


def test_slack_syntax_shows_literally_in_every_way_text_is_shown() -> None:
    escaped = (
        "&lt;!channel&gt; &lt;!here&gt; &lt;@U0BOSS&gt; &lt;https://evil.example|click here&gt;"
    )
    assert literal(TYPED) == escaped
    assert markdown_to_mrkdwn(TYPED) == escaped  # even unquoted in an author's Markdown
    assert progress("debug", TYPED) == escaped
    assert progress("warning", "[x](https://evil.example)") == "⚠️ [x](https://evil.example)"
    assert literal("\ufdd0here\ufdd1") == "here"


def test_an_author_mentions_only_where_asked() -> None:
    text = f"{mention('U012LEAD')}, {mention('S0OPS')} and {mention('here')}: {TYPED}"
    assert markdown_to_mrkdwn(text).startswith("<@U012LEAD>, <!subteam^S0OPS> and <!here>: &lt;")
    assert progress("markdown", mention("channel")) == "<!channel>"
    assert progress("debug", mention("channel")) == "channel"  # debug is plain text
    assert split_heading(f"# Hi {mention('U1AB')}")[0] == "Hi U1AB"  # a header is plain text
    assert markdown_to_mrkdwn("\ufdd0<!channel>\ufdd1") == "&lt;!channel&gt;"  # no forged mark
    for wrong in ["bob", "<@U1>", "U1", "", "channel!"]:
        with pytest.raises(ValueError, match="cannot mention"):
            mention(wrong)


def test_quoted_values_show_as_typed_in_markdown() -> None:
    typed = "[click here](https://evil.example) **big** # not a heading `x` \\ back"
    assert markdown_to_mrkdwn(f"You typed: {typed}").count("<https://evil.example|") == 1
    shown = markdown_to_mrkdwn(f"You typed: {quote(typed)}")
    assert (
        shown == "You typed: [click here](https://evil.example) **big** # not a heading `x` \\ back"
    )
    assert markdown_to_mrkdwn(f"# {quote('#1 [a](b)')}") == "*#1 [a](b)*"
    assert split_heading(f"# Review {quote('[a](https://x)')}")[0] == "Review [a](https://x)"
    assert markdown_to_mrkdwn("```\n\\[kept\\]\n```") == "```\n\\[kept\\]\n```"  # code as is
    assert markdown_to_mrkdwn(quote("a<br>b")) == "a&lt;br&gt;b"  # HTML's break too
    assert markdown_to_mrkdwn(quote("<https://e.x>")) == "&lt;https://e.x&gt;"  # no autolink
    assert split_heading(f"# {quote('1<br>2')}")[0] == "1<br>2"
    assert markdown_to_mrkdwn(quote("R&amp;D")) == "R&amp;amp;D"  # a reference as typed too
    assert split_heading(f"# {quote('R&amp;D')}")[0] == "R&amp;D"


@given(st.text())
@example("\U000f0000 \U000f005c")  # private use characters stay as typed
def test_a_quoted_value_always_shows_as_typed(typed: str) -> None:
    tidy = clean(typed).replace("\n", " ").replace("&", "").replace("<", "").replace(">", "")
    if tidy.strip() and "```" not in tidy:
        assert markdown_to_mrkdwn(quote(tidy)) == tidy.strip()


def test_only_ids_become_mentions() -> None:
    """People and groups the engine recorded are mentioned; a name another surface recorded
    that is not shaped like an id shows as it is."""
    assert who("UBOB") == "<@UBOB>" and who(None) == "someone"
    assert mention_people(["UBOB", "S0OPS", "W1X"]) == "<@UBOB>, <!subteam^S0OPS>, <@W1X>"
    assert who("U1> <!channel") == "U1&gt; &lt;!channel"
    assert mention_people(["bob", "<!here>"]) == "bob, &lt;!here&gt;"
