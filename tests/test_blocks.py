"""Block Kit rendering and state.values reading: every surface is checked by slack_sdk's models,
and what Slack would send back reads into what ``flows.parse`` accepts."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time
from time import perf_counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block as SlackBlock
from slack_sdk.models.views import View

from bot.fake import limits
from bot.render.blocks import (
    ACTION_CANCEL,
    ACTION_OPEN,
    ACTION_SUBMIT,
    ENTRY_CALLBACK,
    LOCK_CALLBACK,
    MORE_TEXT,
    decided_blocks,
    fits_message,
    input_block_id,
    message_blocks,
    modal_errors,
    modal_view,
    open_form_blocks,
)
from bot.render.htmltext import html_to_mrkdwn
from bot.render.mrkdwn import RULE_LINE as RULE
from bot.render.mrkdwn import markdown_to_mrkdwn
from bot.render.state import read_state
from flows.errors import GLOBAL, InputsError
from flows.forms import (
    HR,
    HTML,
    Action,
    Break,
    Cancel,
    Checkbox,
    Element,
    Errors,
    Input,
    InputArea,
    InputDate,
    InputDateTime,
    InputNumber,
    InputOption,
    InputPassword,
    InputText,
    InputTime,
    Markdown,
    Model,
    MultiSelect,
    Select,
    Submit,
    UserSelect,
)
from flows.parse import parse

Form = list[dict[str, Any]]

EVERYTHING = Model(
    Markdown("# Expense review\nCheck **every** line & [the policy](https://example.com/p)."),
    HTML("<h2>Context</h2><p>Filed by <b>Ada</b> &amp; team</p><ul><li>one</li><li>two</li></ul>"),
    Errors(),
    InputText("title", "Title", required=True, placeholder="What is it for?", value="Trip"),
    InputPassword("pin", "PIN", max_length=6),
    InputArea("notes", "Notes", max_length=5000),
    InputNumber("amount", "Amount", required=True, min_value=1, max_value=1000, step=1),
    InputNumber("ratio", "Ratio", step=0.5),
    Break(),
    InputDate("day", "Day", value="2026-03-04"),
    InputTime("at", "At", value="09:30"),
    InputDateTime("when", "When", value="2026-03-04T09:30"),
    Checkbox("agree", "I agree to the policy", "Agreement", value=True),
    HR(),
    Select("kind", (InputOption("travel", "Travel"), InputOption("food", "Food", value=True))),
    MultiSelect("tags", (InputOption("a", "A", value=True), InputOption("b"), InputOption("c"))),
    UserSelect("owner", "Owner", value="U012AB3CD"),
    UserSelect("reviewers", "Reviewers", multiple=True),
    Submit("Approve"),
    Cancel("Reject"),
)
FORM: Form = EVERYTHING.to_json()


# --- helpers: what Slack (and slack_sdk) would accept ------------------------------------------


def _text_objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [t for item in node for t in _text_objects(item)]
    if not isinstance(node, dict):
        return []
    own = [node] if node.get("type") in ("plain_text", "mrkdwn") else []
    return own + [t for value in node.values() for t in _text_objects(value)]


def _nulls(node: Any) -> bool:
    if isinstance(node, list):
        return any(_nulls(item) for item in node)
    if isinstance(node, dict):
        return any(v is None or v == "" or v == [] or _nulls(v) for v in node.values())
    return False


def assert_valid_blocks(blocks: list[dict[str, Any]], *, limit: int) -> None:
    assert 0 < len(blocks) <= limit
    for block in blocks:
        parsed = SlackBlock.parse(block)
        assert parsed is not None, block
        # Equality also proves nothing was dropped as unknown (slack_sdk only logs those).
        assert parsed.to_dict() == block
    assert not _nulls(blocks)  # Slack rejects null (and empty) initial values
    for text in _text_objects(blocks):
        assert text["text"].strip(), blocks
    ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(ids) == len(set(ids))


def assert_valid_message(blocks: list[dict[str, Any]]) -> None:
    assert_valid_blocks(blocks, limit=50)
    assert len(json.dumps(blocks, ensure_ascii=False)) < 13_000


def assert_valid_view(view: dict[str, Any]) -> None:
    assert View(**view).to_dict() == view
    limits.check_view(view)  # what slack_sdk leaves unchecked, refused as Slack refuses it
    assert view["type"] == "modal"
    assert_valid_blocks(view["blocks"], limit=100)


def by_id(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in blocks if "block_id" in b}


def element(blocks: list[dict[str, Any]], name: str) -> dict[str, Any]:
    result: dict[str, Any] = by_id(blocks)[input_block_id(name)]["element"]
    return result


def echo_state(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The state.values Slack would send back for blocks nobody touched: the initial values."""
    keys = {
        "plain_text_input": ("initial_value", "value"),
        "number_input": ("initial_value", "value"),
        "datepicker": ("initial_date", "selected_date"),
        "timepicker": ("initial_time", "selected_time"),
        "datetimepicker": ("initial_date_time", "selected_date_time"),
        "static_select": ("initial_option", "selected_option"),
        "users_select": ("initial_user", "selected_user"),
        "checkboxes": ("initial_options", "selected_options"),
        "multi_static_select": ("initial_options", "selected_options"),
        "multi_users_select": ("initial_users", "selected_users"),
    }
    state: dict[str, dict[str, Any]] = {}
    for block in blocks:
        if block["type"] == "input":
            el = block["element"]
            source, target = keys[el["type"]]
            many = target in ("selected_options", "selected_users")
            empty: list[str] | None = [] if many else None
            state[block["block_id"]] = {
                el["action_id"]: {"type": el["type"], target: el.get(source, empty)}
            }
    return state


# --- messages ---------------------------------------------------------------------------------


def test_every_element_renders_into_a_valid_message() -> None:
    assert fits_message(FORM)
    blocks = message_blocks(FORM, lock_id="lock-1", title="Expense 42")
    assert_valid_message(blocks)
    # the form's opening heading is its title, shown once: as the header, not again in bold
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "Expense review"}}
    assert "Expense review" not in json.dumps(blocks[1:])
    inputs = [b for b in blocks if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == [f"f_{e.name}" for e in EVERYTHING.inputs]
    assert all(b["dispatch_action"] is False for b in inputs)
    # Block Kit's own marking: required fields are not optional, and no hand-made star
    required = {b["block_id"] for b in inputs if b["optional"] is False}
    assert required == {"f_title", "f_amount"}
    assert [b["element"]["action_id"] for b in inputs] == [e.name for e in EVERYTHING.inputs]
    assert sum(b["type"] == "divider" for b in blocks) == 2
    assert by_id(blocks)["f_title"]["label"]["text"] == "Title"
    assert by_id(blocks)["f_notes"]["label"]["text"] == "Notes"
    assert element(blocks, "amount")["type"] == "plain_text_input"  # number_input is modal-only
    assert element(blocks, "pin") == {
        "type": "plain_text_input",
        "action_id": "pin",
        "max_length": 6,
    }
    assert element(blocks, "notes")["multiline"] is True
    assert element(blocks, "notes")["max_length"] == 3000
    assert element(blocks, "when")["type"] == "datetimepicker"
    assert element(blocks, "owner") == {
        "type": "users_select",
        "action_id": "owner",
        "initial_user": "U012AB3CD",
    }
    assert element(blocks, "reviewers") == {"type": "multi_users_select", "action_id": "reviewers"}
    assert "hint" not in by_id(blocks)["f_title"]


def test_markdown_and_html_become_mrkdwn_sections() -> None:
    blocks = message_blocks(FORM, lock_id="lock-1", title="")
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert texts[0] == "Check *every* line &amp; <https://example.com/p|the policy>."
    assert texts[1] == "*Context*\n\nFiled by *Ada* &amp; team\n\n• one\n• two"
    untitled = Model(Markdown("Just *text*"), InputText("a")).to_json()
    assert message_blocks(untitled, lock_id="L", title="")[0]["type"] == "section"  # no header


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("*italic* and **bold** and _also_", "_italic_ and *bold* and _also_"),
        ("2*3*4 and a * b", "2*3*4 and a * b"),  # no emphasis: left as written
        ("> quoted <@U1>", "> quoted &lt;@U1&gt;"),
        ("![chart](https://example.com/c.png)", "<https://example.com/c.png|chart>"),
        ("```python\nx = 1 < 2\n```", "```\nx = 1 &lt; 2\n```"),
        ("- one\n* two\n  + three", "• one\n• two\n  • three"),
        # as written in an indented triple-quoted string; indented on purpose: kept
        ("\n    # Report\n\n    Intro\n    * one\n    ", "*Report*\n\nIntro\n• one"),
        ("- parent\n  - child\n  - child 2", "• parent\n  • child\n  • child 2"),
        ("```\na\tb\n```", "```\na\tb\n```"),
        # emphasis around code or a link, as LLM agents write it: it was left as "**...**"
        ("- **`main.py`**: the entry", "• *`main.py`*: the entry"),
        ("**Using tool: `search`**", "*Using tool: `search`*"),
        ("**[Download](https://e.x/f.pptx)**", "*<https://e.x/f.pptx|Download>*"),
        ("***bold italic*** and *it*", "*_bold italic_* and _it_"),
        # HTML's line break, as kodosumi's prime example ends its Markdown: it showed as "<br/>"
        ("###### Job done\n```python\n{2: 3}\n```\n<br/>", "*Job done*\n```\n{2: 3}\n```"),
        ("one<br>two<BR />three `<br>`", "one\ntwo\nthree `&lt;br&gt;`"),
        ("| a | b |\n|---|---|\n| x<br>y | z |", "```\na   | b\nx y | z\n```"),
        # a folded part, as agents list details: its tags showed as text
        ("<details><summary>All tools</summary>\n\n- `Bash`\n</details>", "All tools\n\n• `Bash`"),
        # an autolink (CommonMark's <https://...>): it showed as text in angle brackets
        (
            "See <https://e.x/a?b=1&c=2> or **<https://e.x>**",
            "See <https://e.x/a?b=1&amp;c=2> or *<https://e.x>*",
        ),
        (
            "<javascript:go()> `<https://e.x>` <https://e.x|x>",
            "&lt;javascript:go()&gt; `&lt;https://e.x&gt;` &lt;https://e.x|x&gt;",
        ),
        # setext headings: they showed as text over "=====" or over a rule
        (
            "Report\n======\n\nBody\n\nPart two\n--------\ntext",
            "*Report*\n\nBody\n\n*Part two*\ntext",
        ),
        ("one\ntwo\n---", "*one*\n*two*"),
        (
            "- item\n---\n\n---\n```\nx\n===\n```",
            "• item\n" + RULE + "\n\n" + RULE + "\n```\nx\n===\n```",
        ),
        # an image linked to its full size, as galleries and badges write it: it showed as
        # "<thumb|![Variation 1>](full)"
        (
            "[![Variation 1](https://cdn.x/t.png)](https://cdn.x/full.png) **2 MB**",
            "<https://cdn.x/full.png|Variation 1> *2 MB*",
        ),
        (
            "[![](https://img.shields.io/b.svg)](https://ci.x/r) `[![a](b)](c)`",
            "<https://ci.x/r|image> `[![a](b)](c)`",
        ),
        # character references, as a browser shows them (Slack showed "&amp;amp;", "&rarr;")
        (
            "R&amp;D &rarr; done &#x2705; &lt;@U1&gt; `&amp;` AT&T",
            "R&amp;D \u2192 done \u2705 &lt;@U1&gt; `&amp;amp;` AT&amp;T",
        ),
        ("[Q&amp;A](https://e.x/?a=1&amp;b=2)", "<https://e.x/?a=1&amp;b=2|Q&amp;A>"),
        # a link whose address holds parentheses, as research agents cite Wikipedia
        (
            "[Ohm](https://en.wikipedia.org/wiki/Ohm_(unit)).",
            "<https://en.wikipedia.org/wiki/Ohm_(unit)|Ohm>.",
        ),
    ],
)
def test_markdown_reads_in_slack_as_it_would_in_a_browser(markdown: str, mrkdwn: str) -> None:
    assert markdown_to_mrkdwn(markdown) == mrkdwn


def test_an_indented_form_titled_by_its_heading_reads_as_markdown() -> None:
    form = Model(
        Markdown("""
            # Report

            Intro
            ## Details
            * one
              * nested
            """),
        InputText("topic", "Topic"),
    ).to_json()
    view = modal_view(form, title="Indented", callback_id="x", private_metadata="")
    assert view["blocks"][0]["text"]["text"] == "Report"
    shown = "\n".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")
    assert shown == "Intro\n*Details*\n• one\n  • nested"


@pytest.mark.parametrize(
    ("source", "mrkdwn"),
    [
        ('see <a href="https://e.x/r?a=1&amp;b=2">the <b>report</b></a>',
         "see <https://e.x/r?a=1&amp;b=2|the report>"),
        ('<a href="javascript:go()">x</a>', "x (javascript:go())"),
        ('<a href="https://e.x/">&lt;!channel&gt;</a>', "<https://e.x/|&lt;!channel&gt;>"),
        ("<pre>a  b\n  c &lt;x&gt;</pre><p>after</p>", "```\na  b\n  c &lt;x&gt;\n```\n\nafter"),
        ("<table><tr><td>1</td><td>2</td></tr><tr><td>3</td><td>4</td></tr></table>",
         "```\n1 | 2\n3 | 4\n```"),
        # a DataFrame's to_html(), as data agents show one: its rows showed a blank line apart,
        # "|  vendor |  score" over "0 |  Acme |  9.5", the columns never lined up
        ('<p>Scores</p><table border="1" class="dataframe">\n <thead>\n  <tr style="x">\n'
         "   <th></th>\n   <th>vendor</th>\n   <th>score</th>\n  </tr>\n </thead>\n <tbody>\n"
         "  <tr>\n   <th>0</th>\n   <td>R&amp;D <b>Lab</b></td>\n   <td>9.5</td>\n  </tr>\n"
         "  <tr><th>1</th><td>Ops</td><td>7</td></tr>\n </tbody>\n</table><p>Done</p>",
         "Scores\n\n```\n  | vendor  | score\n0 | R&amp;D Lab | 9.5\n1 | Ops     | 7\n```\n\nDone"),
        ("<table><tr><td>a<td>b<tr><td>c</table><table></table>x", "```\na | b\nc\n```\n\nx"),
        # a quotation, as mrkdwn quotes: it read as the text around it
        ("<p>He said:</p><blockquote><p>Ship <b>it</b></p><p>&lt;@U1&gt;</p></blockquote>ok",
         "He said:\n\n> Ship *it*\n>\n> &lt;@U1&gt;\nok"),
        # HTML5's blocks, as generated reports are laid out: their words ran together
        ("<section><b>Risk</b></section><section>low</section><dl><dt>Cost</dt><dd>$5</dd></dl>",
         "*Risk*\n\nlow\n\nCost\n\n$5"),
        ('<figure><img src="https://e.x/c.png" alt="c"><figcaption>Sales</figcaption></figure>Q3',
         "<https://e.x/c.png|c>\nSales\n\nQ3"),
        ('<p>Chart:</p><img alt="sales &amp; costs" src="https://e.x/c.png"><p>after</p>',
         "Chart:\n<https://e.x/c.png|sales &amp; costs>\nafter"),  # as a Markdown image
        ("<img src='HTTPS://e.x/c.png'> <img src=\"javascript:x()\" alt=\"x\">ok",
         "<https://e.x/c.png|image> ok"),
        # an ordered list, as a browser numbers it: its items showed as bullets
        ("<p>Steps:</p><ol><li>Plan</li><li>Build <b>it</b></li></ol><ul><li>x</li></ul>",
         "Steps:\n\n1. Plan\n2. Build *it*\n\n• x"),
        ("<OL start='3'><li>c<li>d<ul><li>sub</li></ul></li><li>e</OL>",
         "3. c\n4. d\n\n• sub\n\n5. e"),
    ],
)  # fmt: skip
def test_html_reads_in_slack_as_it_would_in_a_browser(source: str, mrkdwn: str) -> None:
    assert html_to_mrkdwn(source) == mrkdwn


@pytest.mark.parametrize(
    ("convert", "source", "mrkdwn"),
    [
        (markdown_to_mrkdwn, "> " * 1500 + "deep", "> deep"),  # no recursion per ">"
        (markdown_to_mrkdwn, "[docs](https://a.example/*x*/y)", "<https://a.example/*x*/y|docs>"),
        (markdown_to_mrkdwn, "`a *b* c` and *d*", "`a *b* c` and _d_"),
        (markdown_to_mrkdwn, "`![x](data:a)` and\n```\n![y](data:b)\n```",
         "`![x](data:a)` and\n```\n![y](data:b)\n```"),  # code keeps a data URI as written
        (html_to_mrkdwn, "<script><pre>hidden</pre></script><pre>shown</pre>", "```\nshown\n```"),
        (html_to_mrkdwn, '<a href="https://good.example/&amp;#124;x">label</a>',
         "<https://good.example/&amp;#124;x|label>"),  # decoded once: no "|" in the target
        (html_to_mrkdwn, '<a data-href="https://evil.example" href="https://good.example">x</a>',
         "<https://good.example|x>"),
    ],
)  # fmt: skip
def test_conversions_keep_what_they_must_not_touch(convert: Any, source: str, mrkdwn: str) -> None:
    assert convert(source) == mrkdwn


def test_html_cut_at_its_limit_keeps_a_less_than_sign_that_is_text() -> None:
    kept = html_to_mrkdwn("intro x < y " + "w " * 12000)
    assert kept.startswith("intro x &lt; y w") and len(kept) > 19_000
    split = html_to_mrkdwn("w" * 19_990 + '<a href="https://e.x/a/long/path">label</a>')
    assert split == "w" * 19_990  # a tag the cut split goes, its attributes with it


def test_an_inline_data_image_shows_its_label_and_what_follows_it() -> None:
    """A generated image put inline into Markdown (kodosumi's pages show it): Slack shows no
    inline data, so the message has its alt text, not the base64, and the text after it."""
    png = "data:image/png;base64," + "iVBORw0KGgo" * 5000
    shown = markdown_to_mrkdwn(f"Chart:\n![sales by month]({png})\nDone *today*.")
    assert shown == "Chart:\nsales by month\nDone _today_."
    assert markdown_to_mrkdwn(f"the [raw file]({png.upper()}) and ![]({png})") == "the raw file and"
    for written in (
        f'![chart]({png} "Sales")',
        f"![chart](<{png}>)",
        f"it's `x and ![chart]({png})",
    ):
        assert markdown_to_mrkdwn(written).endswith("chart"), written  # a title, <...>, a lone `
    assert markdown_to_mrkdwn("\\[a](data:x)") == "[a](data:x)"  # an escaped bracket: no link


@pytest.mark.parametrize(
    "source",
    ["*a " * 8000, "[a" * 10000, "[a](" * 6000, "`a" * 10000, "# " + " a" * 10000,
     "[a](data:x)" * 100_000, "[a" * 10000 + "](data:x)", "`[a](data:x)" * 100_000,
     "[" + "a]](data:)" * 300_000, "](data:)" * 150_000],
)  # fmt: skip
def test_hostile_markdown_converts_in_time(source: str) -> None:
    begin = perf_counter()
    markdown_to_mrkdwn(source)
    assert perf_counter() - begin < 1.0  # generous: ~0.1 s here; quadratic took seconds


@pytest.mark.parametrize(
    "source",
    [
        "<a href=x " * 4000,
        "<a href='x'>" * 4000,
        "<script>" * 5000,
        "<pre>" * 5000,
        "<h1>" * 5000,
        "<img " * 40000,
    ],
)
def test_hostile_html_converts_in_time(source: str) -> None:
    begin = perf_counter()
    html_to_mrkdwn(source)
    assert perf_counter() - begin < 1.0


def test_error_messages_written_as_html_read_as_plain_text() -> None:
    """kodosumi shows its errors as HTML, so apps write ``<br/>`` and ``<b>`` into them;
    Slack shows them as plain text: the tags go, the entities read as what they stand for,
    and what only looks like a tag stays."""
    errors = {"name": ["Bad name.<br/>Use <b>letters</b> only &amp; no digits"],
              GLOBAL: ["x < 10 > y"]}  # fmt: skip
    form = Model(InputText("name", "Name")).to_json()
    assert modal_errors(errors, form=form) == {
        "f_name": "x < 10 > y Bad name. Use letters only & no digits"
    }
    hint = by_id(message_blocks(form, lock_id="L", title="t", errors=errors))["f_name"]["hint"]
    assert hint["text"] == "⚠️ Bad name. Use letters only & no digits"


def test_the_actions_block_carries_the_lock_id() -> None:
    actions = message_blocks(FORM, lock_id="lock-1", title="t")[-1]
    assert actions["type"] == "actions" and actions["block_id"] == "lock_actions"
    submit, cancel = actions["elements"]
    assert (submit["action_id"], submit["text"]["text"]) == (ACTION_SUBMIT, "Approve")
    assert (submit["value"], submit["style"]) == ("lock-1", "primary")
    assert (cancel["action_id"], cancel["text"]["text"]) == (ACTION_CANCEL, "Reject")
    assert (cancel["value"], cancel["style"]) == ("lock-1", "danger")


@pytest.mark.parametrize(
    ("elements", "buttons"),
    [
        ((InputText("a"),), [("Submit", ACTION_SUBMIT)]),
        ((InputText("a"), Cancel()), [("Submit", ACTION_SUBMIT), ("Cancel", ACTION_CANCEL)]),
        (
            (Markdown("Go?"), Submit("Yes"), Cancel("No")),
            [("Yes", ACTION_SUBMIT), ("No", ACTION_CANCEL)],
        ),
        ((Markdown("Go?"), Cancel("Stop")), [("Stop", ACTION_CANCEL)]),
        ((Markdown("Noted?"),), [("Submit", ACTION_SUBMIT)]),  # never a lock without a button
    ],
)
def test_buttons_follow_the_form(
    elements: tuple[Element, ...], buttons: list[tuple[str, str]]
) -> None:
    blocks = message_blocks(Model(*elements).to_json(), lock_id="L", title="t")
    assert_valid_message(blocks)
    got = [(b["text"]["text"], b["action_id"]) for b in blocks[-1]["elements"]]
    assert got == buttons


def test_initial_values_come_from_the_form() -> None:
    blocks = message_blocks(FORM, lock_id="L", title="t")
    assert element(blocks, "title")["initial_value"] == "Trip"
    assert element(blocks, "title")["placeholder"] == {
        "type": "plain_text",
        "text": "What is it for?",
    }
    assert element(blocks, "day")["initial_date"] == "2026-03-04"
    assert element(blocks, "at")["initial_time"] == "09:30"
    assert element(blocks, "when")["initial_date_time"] == int(
        datetime(2026, 3, 4, 9, 30, tzinfo=UTC).timestamp()
    )
    agree = element(blocks, "agree")
    assert agree["options"] == [
        {"text": {"type": "plain_text", "text": "I agree to the policy"}, "value": "on"}
    ]
    assert agree["initial_options"] == agree["options"]
    assert by_id(blocks)["f_agree"]["label"]["text"] == "Agreement"
    assert element(blocks, "kind")["initial_option"]["value"] == "food"
    assert [o["value"] for o in element(blocks, "tags")["initial_options"]] == ["a"]
    for name in ("pin", "notes", "amount", "ratio", "reviewers"):
        assert not any(k.startswith("initial") for k in element(blocks, name)), name


def test_typed_values_are_kept_over_defaults_and_empty_ones_are_not_sent() -> None:
    values = {
        "title": "",
        "notes": "line one\nline two",
        "amount": "12x",
        "day": date(2026, 5, 6),
        "at": time(7, 5),
        "when": 1_800_000_000,
        "agree": False,
        "kind": None,
        "tags": ["c", "b"],
        "owner": None,
        "reviewers": ["U1AAA", "W2BBB"],
    }
    blocks = message_blocks(FORM, lock_id="L", title="t", values=values)
    assert_valid_message(blocks)
    assert "initial_value" not in element(blocks, "title")
    assert element(blocks, "notes")["initial_value"] == "line one\nline two"
    assert element(blocks, "amount")["initial_value"] == "12x"  # kept so the person can fix it
    assert element(blocks, "day")["initial_date"] == "2026-05-06"
    assert element(blocks, "at")["initial_time"] == "07:05"
    assert element(blocks, "when")["initial_date_time"] == 1_800_000_000
    assert "initial_options" not in element(blocks, "agree")
    assert "initial_option" not in element(blocks, "kind")
    assert [o["value"] for o in element(blocks, "tags")["initial_options"]] == ["b", "c"]
    assert "initial_user" not in element(blocks, "owner")
    assert element(blocks, "reviewers")["initial_users"] == ["U1AAA", "W2BBB"]
    fresh = message_blocks(FORM, lock_id="L", title="t")
    assert list(by_id(blocks)) == list(by_id(fresh))  # same block ids: Slack keeps typed state


def test_errors_show_under_their_field_and_global_ones_at_the_top() -> None:
    wire = InputsError("Budget is closed.", amount="Enter a number.", ghost="Lost field").wire()
    wire["title"] = ["Too short.", "Use letters."]
    blocks = message_blocks(FORM, lock_id="L", title="t", errors=wire, values={"amount": "x"})
    assert_valid_message(blocks)
    hints = {b["block_id"]: b["hint"]["text"] for b in blocks if "hint" in b}
    assert hints == {"f_amount": "⚠️ Enter a number.", "f_title": "⚠️ Too short. Use letters."}
    assert blocks[1]["text"]["text"] == ":warning: Budget is closed.\n:warning: Lost field"
    assert fits_message(FORM)


# --- modals -----------------------------------------------------------------------------------


def test_every_element_renders_into_a_valid_modal() -> None:
    view = modal_view(FORM, title="Expense 42", callback_id=LOCK_CALLBACK, private_metadata="L1")
    assert_valid_view(view)
    assert (view["callback_id"], view["private_metadata"]) == (LOCK_CALLBACK, "L1")
    assert view["title"]["text"] == "Expense 42"
    # closing a lock's modal decides nothing, so its button says Close, never the form's Reject
    assert (view["submit"]["text"], view["close"]["text"]) == ("Approve", "Close")
    assert view["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Expense review"},
    }  # the heading differs from the modal's title: it opens the body
    same = modal_view(FORM, title="expense  Review", callback_id="c", private_metadata="")
    assert same["blocks"][0]["type"] == "section"  # the title says it already
    assert not any(b["type"] == "actions" for b in view["blocks"])
    assert element(view["blocks"], "amount") == {
        "type": "number_input",
        "action_id": "amount",
        "is_decimal_allowed": False,
        "min_value": "1",
        "max_value": "1000",
    }
    assert element(view["blocks"], "ratio")["is_decimal_allowed"] is True
    message = message_blocks(FORM, lock_id="L", title="t")
    assert [b["block_id"] for b in view["blocks"] if b["type"] == "input"] == [
        b["block_id"] for b in message if b["type"] == "input"
    ]


@pytest.mark.parametrize(
    ("number", "decimal"),
    [
        (InputNumber("n"), True),
        (InputNumber("n", step=0.5), True),
        (InputNumber("n", step=1, min_value=0.5), True),
        (InputNumber("n", step=2, min_value=0, max_value=10), False),
        (InputNumber("n", step=1.0, max_value=7.0), False),
    ],
)
def test_decimals_are_allowed_unless_the_step_makes_integers(
    number: InputNumber, decimal: bool
) -> None:
    view = modal_view(Model(number).to_json(), title="t", callback_id="c", private_metadata="")
    assert_valid_view(view)
    assert element(view["blocks"], "n")["is_decimal_allowed"] is decimal


@pytest.mark.parametrize("kind", [Select, MultiSelect])
def test_a_select_of_more_than_100_options_offers_every_one_in_groups(kind: type) -> None:
    """Slack's select holds 100 options; a list of countries has more: groups of 100 (Slack's
    type-ahead searches them all), the preselected one among them, each answerable."""
    options = [InputOption(f"c{i}", f"Country {i}", value=i == 120) for i in range(250)]
    form = Model(kind("country", options)).to_json()
    assert not fits_message(form)  # it opens as a modal
    view = modal_view(form, title="t", callback_id="c", private_metadata="")
    assert_valid_view(view)
    widget = element(view["blocks"], "country")
    assert "options" not in widget and [len(g["options"]) for g in widget["option_groups"]] == [
        100, 100, 50,
    ]  # fmt: skip
    assert widget["option_groups"][1]["label"]["text"] == "101-200: Country 100 …"
    state = echo_state(view["blocks"])
    chosen = read_state(form, state)["country"]
    assert chosen == ("c120" if kind is Select else ["c120"])
    assert parse(Model.from_json(form), {"country": "c249" if kind is Select else ["c249"]})


@pytest.mark.parametrize("count", [10, 11, 30])
def test_a_modal_offers_a_dozen_action_buttons_of_one_name_as_one_choice(count: int) -> None:
    """A modal asks which of a group of Action buttons before Submit: radio buttons, which
    Slack takes ten of at most; more, in a select (a view with 11 radio buttons is refused
    whole, and nobody could answer the form)."""
    actions = [Action("region", f"r{i}", text=f"Region {i}") for i in range(count)]
    form = Model(InputText("why", "Why"), *actions).to_json()
    view = modal_view(form, title="t", callback_id="c", private_metadata="")
    assert_valid_view(view)
    widget = element(view["blocks"], "region")
    assert widget["type"] == ("radio_buttons" if count <= 10 else "static_select")
    assert [o["value"] for o in widget["options"]] == [f"r{i}" for i in range(count)]
    picked = {"type": widget["type"], "selected_option": widget["options"][-1]}
    state = {input_block_id("region"): {"region": picked}}
    assert read_state(form, state) == {"region": f"r{count - 1}"}


def test_a_form_with_more_action_buttons_than_a_message_holds_opens_as_a_modal() -> None:
    """A message shows 20 Action buttons (an actions block holds 25, with Submit, Cancel and
    Snooze): a form with more opens as a modal, where each can be chosen, not a message that
    leaves the last ones out."""
    few = Model(*(Action("region", f"r{i}", text=f"Region {i}") for i in range(20))).to_json()
    assert fits_message(few)
    many = Model(*(Action("region", f"r{i}", text=f"Region {i}") for i in range(25))).to_json()
    assert not fits_message(many)
    view = modal_view(many, title="t", callback_id="c", private_metadata="")
    assert_valid_view(view)
    assert len(element(view["blocks"], "region")["options"]) == 25


def test_modal_defaults_and_cut_texts() -> None:
    form = Model(InputNumber("n", value=2.5, step=1), Submit("S" * 40), Cancel("")).to_json()
    view = modal_view(
        form,
        title="A title much longer than 24 chars",
        callback_id=ENTRY_CALLBACK,
        private_metadata="x",
    )
    assert_valid_view(view)
    assert view["title"]["text"] == "A title much longer tha…"
    assert len(view["submit"]["text"]) == 24
    assert view["close"]["text"] == "Close"
    entry = modal_view(form, title="t", callback_id="c", private_metadata="", close="Cancel")
    assert entry["close"]["text"] == "Cancel"
    assert "initial_value" not in element(view["blocks"], "n")  # 2.5 is not an allowed integer
    empty = modal_view([], title=" ", callback_id="c", private_metadata="")
    assert_valid_view(empty)
    assert empty["title"]["text"] == "Lockstep" and len(empty["blocks"]) == 1


def test_identifiers_are_never_cut() -> None:
    with pytest.raises(ValueError):
        modal_view(FORM, title="t", callback_id="c", private_metadata="m" * 3001)
    with pytest.raises(ValueError):
        modal_view(FORM, title="t", callback_id="c" * 256, private_metadata="")
    with pytest.raises(ValueError):
        message_blocks(FORM, lock_id="L" * 2001, title="t")


# --- limits -----------------------------------------------------------------------------------

BIG = Model(
    Markdown("Lots of questions."),
    *[InputText(f"q{i}", f"Question {i}", required=i % 2 == 0) for i in range(120)],
    Cancel("Decline"),
).to_json()


def test_a_form_with_120_fields_goes_to_a_modal_that_keeps_100_inputs() -> None:
    assert not fits_message(BIG)
    with pytest.raises(ValueError):
        message_blocks(BIG, lock_id="L", title="t")
    blocks = open_form_blocks(BIG, lock_id="L", title="Survey")
    assert_valid_message(blocks)
    assert [b["type"] for b in blocks] == ["header", "section", "actions"]
    assert [(b["action_id"], b["style"], b["value"]) for b in blocks[-1]["elements"]] == [
        (ACTION_OPEN, "primary", "L"),
        (ACTION_CANCEL, "danger", "L"),
    ]
    view = modal_view(BIG, title="Survey", callback_id=LOCK_CALLBACK, private_metadata="L")
    assert_valid_view(view)
    assert [b["block_id"] for b in view["blocks"]] == [f"f_q{i}" for i in range(100)]


def test_past_100_blocks_inputs_win_over_text() -> None:
    elements = [e for i in range(60) for e in (Markdown(f"About {i}"), InputText(f"q{i}"))]
    view = modal_view(Model(*elements).to_json(), title="t", callback_id="c", private_metadata="")
    assert_valid_view(view)
    types = [b["type"] for b in view["blocks"]]
    assert types.count("input") == 60 and types.count("section") == 40
    assert types[:2] == ["section", "input"] and types[-1] == "input"


def test_a_form_too_long_in_characters_does_not_fit_a_message() -> None:
    form = Model(*[InputArea(f"a{i}", "L" * 1500) for i in range(10)]).to_json()
    assert len(message_blocks(form, lock_id="L", title="t")) < 50
    assert not fits_message(form)
    assert_valid_view(modal_view(form, title="t", callback_id="c", private_metadata=""))


def test_long_texts_are_cut_or_split() -> None:
    long_md = "\n".join(f"Line {i} " + "word " * 30 for i in range(60))  # ~9.5k characters
    options = tuple(InputOption(f"opt{i}-" + "v" * 160, "L" * 80) for i in range(130))
    field = InputText("t", "T" * 2100, required=True, placeholder="p" * 200)
    form = Model(Markdown(long_md), field, Select("s", options), Submit("B" * 80)).to_json()
    view = modal_view(form, title="t", callback_id="c", private_metadata="L")
    assert_valid_view(view)
    blocks = view["blocks"]
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(sections) == 4 and all(len(s) <= 3000 for s in sections)
    assert " ".join(" ".join(sections).split()) == " ".join(long_md.split())
    label = by_id(blocks)["f_t"]["label"]["text"]
    assert len(label) == 2000 and label.endswith("…")
    assert len(element(blocks, "t")["placeholder"]["text"]) == 150
    select = element(blocks, "s")
    offered = [o for g in select["option_groups"] for o in g["options"]]
    assert len(offered) == len(options)  # every one, in groups of 100
    assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in offered)
    assert len(view["submit"]["text"]) == 24
    # A cut option value still reads back as the option's full name.
    chosen = {"type": "static_select", "selected_option": offered[3]}
    assert read_state(form, {"f_s": {"s": chosen}}) == {"s": options[3].name}

    small = Model(field, Select("s", options[:3]), Submit("B" * 80)).to_json()
    message = message_blocks(small, lock_id="L", title="H" * 200)
    assert_valid_message(message)
    assert len(message[0]["text"]["text"]) == 150
    assert len(message[-1]["elements"][0]["text"]["text"]) == 75


def test_a_long_code_block_split_between_sections_shows_as_code_in_each() -> None:
    """A draft to review, in a code block longer than a section: its first section ended in an
    open fence and the next began without one, both showing backticks and raw text."""
    code = "\n".join(f"def step_{i}(x):  return x + {i}" for i in range(150))  # ~5k characters
    form = Model(Markdown(f"Review this code:\n```python\n{code}\n```\nOK?"), Submit("Y")).to_json()
    view = modal_view(form, title="t", callback_id="c", private_metadata="L")
    assert_valid_view(view)
    sections = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    assert len(sections) == 2 and all(s.count("```") == 2 for s in sections), sections
    assert sections[1].startswith("```\ndef step_") and sections[1].endswith("```\nOK?")


def test_open_form_and_decided_blocks_cap_long_text() -> None:
    form = Model(Markdown("x " * 40_000), InputText("a"), Submit(), Cancel()).to_json()
    for blocks in (
        open_form_blocks(form, lock_id="L", title="t"),
        decided_blocks(form, title="t", outcome="done"),
    ):
        assert_valid_message(blocks)
        assert len(json.dumps(blocks, ensure_ascii=False)) <= 12_000
        assert any(b.get("text", {}).get("text") == MORE_TEXT for b in blocks)


def test_decided_blocks_show_text_and_outcome_only() -> None:
    outcome = "✅ Approved by <@U1> · <!date^1775031300^{time}|09:15 UTC>"
    blocks = decided_blocks(FORM, title="Expense 42", outcome=outcome)
    assert_valid_message(blocks)
    assert [b["type"] for b in blocks] == [
        "header",
        "section",
        "section",
        "divider",
        "divider",
        "context",
    ]
    assert blocks[0]["text"]["text"] == "Expense review"  # the form's heading, once
    assert blocks[-1]["elements"] == [{"type": "mrkdwn", "text": outcome}]  # the bot's own words


# --- reading answers --------------------------------------------------------------------------

STATE_VALUES: dict[str, dict[str, Any]] = {
    "f_title": {"title": {"type": "plain_text_input", "value": "Team offsite"}},
    "f_pin": {"pin": {"type": "plain_text_input", "value": None}},
    "f_notes": {"notes": {"type": "plain_text_input", "value": "Train, two nights."}},
    "f_amount": {"amount": {"type": "plain_text_input", "value": "420"}},
    "f_ratio": {"ratio": {"type": "number_input", "value": "1.5"}},
    "f_day": {"day": {"type": "datepicker", "selected_date": "2026-04-01"}},
    "f_at": {"at": {"type": "timepicker", "selected_time": "08:15"}},
    "f_when": {"when": {"type": "datetimepicker", "selected_date_time": 1775031300}},
    "f_agree": {
        "agree": {
            "type": "checkboxes",
            "selected_options": [
                {"text": {"type": "plain_text", "text": "I agree", "emoji": True}, "value": "on"}
            ],
        }
    },
    "f_kind": {
        "kind": {
            "type": "static_select",
            "selected_option": {
                "text": {"type": "plain_text", "text": "Travel", "emoji": True},
                "value": "travel",
            },
        }
    },
    "f_tags": {
        "tags": {
            "type": "multi_static_select",
            "selected_options": [
                {"text": {"type": "plain_text", "text": "c", "emoji": True}, "value": "c"},
                {"text": {"type": "plain_text", "text": "A", "emoji": True}, "value": "a"},
            ],
        }
    },
    "f_owner": {"owner": {"type": "users_select", "selected_user": "U012AB3CD"}},
    "f_reviewers": {
        "reviewers": {"type": "multi_users_select", "selected_users": ["U012AB3CD", "W0123ABCD"]}
    },
    "some_other_block": {"x": {"type": "plain_text_input", "value": "ignored"}},
}


def test_state_values_read_into_what_parse_accepts() -> None:
    raw = read_state(FORM, STATE_VALUES)
    assert raw == {
        "title": "Team offsite",
        "pin": None,
        "notes": "Train, two nights.",
        "amount": "420",
        "ratio": "1.5",
        "day": "2026-04-01",
        "at": "08:15",
        "when": 1775031300,
        "agree": True,
        "kind": "travel",
        "tags": ["c", "a"],
        "owner": "U012AB3CD",
        "reviewers": ["U012AB3CD", "W0123ABCD"],
    }
    values = parse(Model.from_json(FORM), raw)
    assert values["amount"] == 420 and values["ratio"] == 1.5
    assert values["day"] == date(2026, 4, 1) and values["at"] == time(8, 15)
    assert values["when"] == datetime(2026, 4, 1, 8, 15)
    assert values["agree"] is True and values["tags"] == ["a", "c"]


def test_missing_blocks_stay_absent_and_empty_answers_read_as_empty() -> None:
    state: dict[str, dict[str, Any]] = {
        "f_agree": {"agree": {"type": "checkboxes", "selected_options": []}},
        "f_kind": {"kind": {"type": "static_select", "selected_option": None}},
        "f_tags": {"tags": {"type": "multi_static_select", "selected_options": []}},
        "f_when": {"when": {"type": "datetimepicker", "selected_date_time": None}},
        "f_title": {},
    }
    assert read_state(FORM, state) == {"agree": False, "kind": None, "tags": [], "when": None}
    assert read_state(FORM, {}) == {}


@pytest.mark.parametrize(
    "state",
    [
        [],
        {"f_title": "x"},
        {"f_title": {"title": "x"}},
        {"f_title": {"title": {"type": "plain_text_input", "value": 3}}},
        {"f_title": {"title": {"type": "rich_text_input", "rich_text_value": {}}}},
        {"f_when": {"when": {"type": "datetimepicker", "selected_date_time": "1"}}},
        {"f_when": {"when": {"type": "datetimepicker", "selected_date_time": True}}},
        {"f_kind": {"kind": {"type": "static_select", "selected_option": "travel"}}},
        {"f_kind": {"kind": {"type": "static_select", "selected_option": {"value": 1}}}},
        {"f_tags": {"tags": {"type": "multi_static_select", "selected_options": {}}}},
        {"f_reviewers": {"reviewers": {"type": "multi_users_select", "selected_users": [1]}}},
    ],
)
def test_malformed_state_raises_value_error(state: Any) -> None:
    with pytest.raises(ValueError):
        read_state(FORM, state)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_slack_types = st.sampled_from(
    [
        *("plain_text_input", "number_input", "datepicker", "timepicker", "datetimepicker"),
        *("checkboxes", "static_select", "multi_static_select", "users_select"),
        *("multi_users_select", "other"),
    ]
)
_action = st.fixed_dictionaries(
    {"type": _slack_types},
    optional={
        k: _json
        for k in (
            *("value", "selected_date", "selected_time", "selected_date_time"),
            *("selected_option", "selected_options", "selected_user", "selected_users"),
        )
    },
)
_names = st.sampled_from([e.name for e in EVERYTHING.inputs])


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        _names.map(input_block_id),
        st.one_of(_json, st.dictionaries(_names, st.one_of(_json, _action), max_size=2)),
        max_size=6,
    )
    | _json
)
def test_no_payload_raises_anything_but_value_error(state: Any) -> None:
    try:
        raw = read_state(FORM, state)
    except ValueError:
        return
    try:
        parse(Model.from_json(FORM), raw)
    except InputsError:
        pass


def test_modal_errors_are_keyed_by_input_block_id() -> None:
    wire = InputsError("Budget is closed.", amount="Enter a number.", title=["A", "B"]).wire()
    assert modal_errors(wire) == {
        "f_amount": "Budget is closed. Enter a number.",
        "f_title": "A B",
    }
    assert modal_errors(wire, form=FORM) == {
        "f_title": "Budget is closed. A B",
        "f_amount": "Enter a number.",
    }
    assert modal_errors({"_global_": ["Nope."]}, form=FORM) == {"f_title": "Nope."}
    assert modal_errors({"_global_": ["Nope."]}) == {}
    assert modal_errors({"_global_": ["Nope."]}, form=Model(Markdown("x")).to_json()) == {}
    assert modal_errors({"_global_": [], "ghost": ["Gone."]}, form=FORM) == {"f_title": "Gone."}
    blocks = modal_view(FORM, title="t", callback_id="c", private_metadata="")["blocks"]
    assert set(modal_errors(wire, form=FORM)) <= {
        b["block_id"] for b in blocks if b["type"] == "input"
    }


# --- properties -------------------------------------------------------------------------------

_label = st.none() | st.text(min_size=0, max_size=2100)
_option = st.builds(InputOption, st.text(min_size=1, max_size=200), _label, st.booleans())


def _numbered(count: int, first: InputOption) -> list[InputOption]:
    """``count`` options like ``first`` (up to 130: more than a select may show), names unique."""
    return [
        replace(first, name=f"{first.name}{i}", value=first.value and i < 3) for i in range(count)
    ]


_option_lists = st.builds(_numbered, st.integers(1, 5) | st.integers(1, 130), _option)


_maybe_text = st.none() | st.text(max_size=50)


_n, _req = st.just("x"), st.booleans()  # names are set per form, to keep them unique
_ELEMENTS: st.SearchStrategy[Element] = st.one_of(
    st.builds(InputText, _n, _label, _maybe_text, _req, placeholder=_label),
    st.builds(InputPassword, _n, _label, _req, max_length=st.none() | st.integers(-5, 9000)),
    st.builds(InputArea, _n, _label, st.none() | st.text(max_size=4000), _req, _label),
    st.builds(
        InputNumber,
        _n,
        _label,
        st.none() | st.integers() | st.floats() | st.text(max_size=8),
        _req,
        min_value=st.none() | st.integers(-100, 100) | st.floats(-1e6, 1e6),
        max_value=st.none() | st.integers(-100, 100),
        step=st.none() | st.sampled_from([0, 1, 2, 0.5, 0.25]),
        placeholder=_label,
    ),
    st.builds(InputDate, _n, _label, st.none() | st.dates().map(str) | st.text(max_size=12)),
    st.builds(InputTime, _n, _label, st.none() | st.times().map(str) | st.text(max_size=8)),
    st.builds(InputDateTime, _n, _label, st.none() | st.datetimes().map(datetime.isoformat)),
    st.builds(InputDate, _n, placeholder=_label),
    st.builds(InputTime, _n, placeholder=_label),
    st.builds(InputDateTime, _n, placeholder=_label),
    st.builds(Checkbox, _n, _label, _label, st.booleans()),
    st.builds(Select, _n, _option_lists, _label, st.none() | st.text(max_size=5)),
    st.builds(
        MultiSelect, _n, _option_lists, _label, st.none(), _req, st.integers(-1, 5) | st.none()
    ),
    st.builds(UserSelect, _n, _label, _maybe_text, _req, st.just(False)),
    st.builds(
        UserSelect, _n, _label, st.lists(st.text(max_size=12), max_size=3), _req, st.just(True)
    ),
    st.builds(Markdown, st.text(max_size=7000)),
    st.builds(HTML, st.text(max_size=500)),
    st.just(Break()),
    st.just(HR()),
    st.builds(Submit, st.text(max_size=100)),
    st.builds(Cancel, st.text(max_size=100)),
)


@st.composite
def forms(draw: st.DrawFn) -> Form:
    elements = []
    for i in range(draw(st.integers(0, 12) | st.integers(0, 130))):  # half of them small
        el = draw(_ELEMENTS)
        if isinstance(el, Input):  # unique, possibly long or odd names
            el = replace(el, name=draw(st.text(max_size=300)) + f"#{i}")
        elements.append(el)
    return Model(*elements).to_json()


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(form=forms(), title=st.text(max_size=300), lock_id=st.text(min_size=1, max_size=64))
def test_any_form_renders_to_blocks_slack_accepts(form: Form, title: str, lock_id: str) -> None:
    if fits_message(form):
        blocks = message_blocks(form, lock_id=lock_id, title=title)
        assert_valid_message(blocks)
        # Re-rendering with what Slack sends back keeps every value and still fits.
        raw = read_state(form, echo_state(blocks))
        assert message_blocks(form, lock_id=lock_id, title=title, values=raw) == blocks
        wire = {name: ["Fix this."] for name in raw} | {"_global_": ["Try again."]}
        assert_valid_message(
            message_blocks(form, lock_id=lock_id, title=title, errors=wire, values=raw)
        )
    else:
        assert_valid_message(open_form_blocks(form, lock_id=lock_id, title=title))
    view = modal_view(form, title=title, callback_id=LOCK_CALLBACK, private_metadata=lock_id)
    assert_valid_view(view)
    raw = read_state(form, echo_state(view["blocks"]))
    again = modal_view(
        form, title=title, callback_id=LOCK_CALLBACK, private_metadata=lock_id, values=raw
    )
    assert again == view
    assert_valid_message(decided_blocks(form, title=title, outcome="✅ Approved by <@U1>"))


def test_a_form_with_many_options_and_every_field_in_error_still_fits_a_message() -> None:
    """Found by the property test below: many small objects (a select's options) make the JSON
    the Web API client sends (``", "``, ``": "``) a good part larger than compact JSON, so a
    message's room is measured as sent, and a form that fits still fits with an error on every
    field."""

    def options(prefix: str, n: int, chosen: int = 0) -> list[dict[str, Any]]:
        return [
            {"type": "option", "name": f"{prefix}{i}", "label": None, "value": i < chosen}
            for i in range(n)
        ]

    text = {"type": "text", "label": None, "value": None, "required": False, "size": None}
    form: list[dict[str, Any]] = [
        {"type": "datetime-local", "name": "#0", "label": None, "value": None, "required": False,
         "placeholder": None, "min_datetime": None, "max_datetime": None, "step": None},
        {**text, "name": "#1", "placeholder": None, "pattern": None},
        {"type": "markdown", "text": "0"},
        {"type": "markdown", "text": "0"},
        {"type": "submit", "text": ""},
        {"type": "break", "text": '<div class="space"></div>'},
        {"type": "cancel", "text": ""},
        {**text, "name": "#7", "placeholder": "0", "pattern": None},
        {**text, "name": "#8", "placeholder": "000000000", "pattern": None},
        {"type": "select", "name": "\x1f#9", "label": None, "value": None,
         "option": options("000", 98), "error": None},
        {"type": "multiselect", "name": "0" * 39 + "#10", "option": options("00", 54, chosen=3),
         "label": None, "value": None, "required": False, "max_selected": 1},
    ]  # fmt: skip
    lock_id = "00000000\x1f"
    if not fits_message(form):
        assert_valid_message(open_form_blocks(form, lock_id=lock_id, title="0"))
        return
    blocks = message_blocks(form, lock_id=lock_id, title="0")
    raw = read_state(form, echo_state(blocks))
    wire = {name: ["Fix this."] for name in raw} | {"_global_": ["Try again."]}
    assert_valid_message(message_blocks(form, lock_id=lock_id, title="0", errors=wire, values=raw))
