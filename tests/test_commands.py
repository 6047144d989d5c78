"""``/flow`` as people type it: parsed without Slack (pure), then answered by the real bot."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.commands import (
    Command,
    distinct_prefixes,
    find_name,
    nearest,
    parse_command,
    prefill,
    prefill_form,
    suggestion,
)
from bot.render.blocks import modal_view
from flows import Request
from flows.forms import InputOption, Model, MultiSelect
from tests.slackbot import (
    CHANNEL,
    Bot,
    assert_valid_surfaces,
    input_value,
    start_without_form,
)

FLOWS = ["review", "deploy", "expense"]


def test_subcommands_in_any_case_and_values() -> None:
    assert parse_command('START review doc="Q3 plan" owner=U1') == Command(
        "start", "review", {"doc": "Q3 plan", "owner": "U1"}
    )
    assert parse_command("") == Command("help")
    assert parse_command("Status") == Command("status")
    assert parse_command("start review oops").problem == "oops"
    assert parse_command("strat review x=1") == Command("unknown", "strat", rest=("review", "x=1"))


OPEN, CLOSE, LOW = "\u201c", "\u201d", "\u201e"  # typographic double quotes
SOPEN, APOSTROPHE = "\u2018", "\u2019"  # and single ones (the closing one is an apostrophe)


@pytest.mark.parametrize(
    "quoted",
    [
        '"Q3 plan"',
        f"{OPEN}Q3 plan{CLOSE}",
        f"{CLOSE}Q3 plan{CLOSE}",  # iOS after "=": a closing quote both times
        f"{SOPEN}Q3 plan{APOSTROPHE}",
        f"{LOW}Q3 plan{OPEN}",
    ],
)
def test_values_may_be_quoted_with_the_quotes_phones_type(quoted: str) -> None:
    """Phones (and "smart quotes") turn " and ' into typographic quotes: they quote all the
    same, and an apostrophe in a word stays one."""
    said = f"it{APOSTROPHE}s"
    assert parse_command(f"start review doc={quoted} note={said}") == Command(
        "start", "review", {"doc": "Q3 plan", "note": said}
    )


@pytest.mark.parametrize(
    "text",
    [
        "start\u00a0review doc=x",  # a no-break space, as Option+Space types on a Mac
        "start review\u2003doc=x",
        "start\u200b review doc=x\ufeff",  # invisible characters pasted along
        "\u3000start review doc=x",
    ],
)
def test_words_are_split_at_any_space_and_invisible_characters_dropped(text: str) -> None:
    assert parse_command(text) == Command("start", "review", {"doc": "x"})


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("strat review", "/flow start review"),
        ("strat reveiw doc=x", "/flow start review doc=x"),
        ("review", "/flow start review"),
        ("Deploy", "/flow start deploy"),
        ("reveiw", "/flow start review"),
        ("stauts", "/flow status"),
        ("stats 4f1c", "/flow status 4f1c"),
        ("cancle 4f1c", "/flow cancel 4f1c"),
        ("frobnicate", None),
    ],
)
def test_a_typo_suggests_the_nearest_command_or_flow(text: str, meant: str | None) -> None:
    assert suggestion(parse_command(text), FLOWS) == meant


def test_names_match_exactly_then_whatever_the_case() -> None:
    assert find_name("Review", FLOWS) == "review"
    assert find_name("review", ["Review", "review"]) == "review"
    assert find_name("REVIEW", ["Review", "review"]) is None  # two in other cases: ambiguous
    assert nearest("expnse", FLOWS) == "expense" and nearest("zzz", FLOWS) is None


def test_ids_are_shown_as_short_as_tells_them_apart() -> None:
    assert distinct_prefixes(["4f1c9e2ab3d5", "77aa0011ffff"], 8) == ["4f1c9e2a", "77aa0011"]
    assert distinct_prefixes(["abc12345aa", "abc12345bb"], 8) == ["abc12345a", "abc12345b"]
    assert distinct_prefixes(["f00d"], 8) == ["f00d"]


def test_prefill_keys_are_matched_and_unknown_ones_kept_to_report() -> None:
    matched = prefill({"Document": "Q3", "doc": "x", "author": "me"}, ["document", "author"])
    assert matched.values == {"document": "Q3", "author": "me"}
    assert matched.unknown == ("doc",)


def current(bot: Bot, message: dict[str, Any]) -> dict[str, Any]:
    """The channel's message as people now see it."""
    return next(m for m in bot.slack.messages(CHANNEL) if m["ts"] == message["ts"])


REGIONS = Model(
    MultiSelect("regions", (InputOption("eu", "Europe"), InputOption("us", "Americas")))
)


@pytest.mark.parametrize(
    ("typed", "chosen", "note"),
    [
        ("eu, Americas", ["eu", "us"], None),  # by value or label, comma-separated
        ("eu,xx", ["eu"], "`regions` has no choice `xx`"),
        ("xx,yy", [], "`regions` has no choice `xx`, `yy`"),
    ],
)
def test_a_multi_select_is_prefilled_from_a_comma_separated_list(
    typed: str, chosen: list[str], note: str | None
) -> None:
    form = REGIONS.to_json()
    taken, notes = prefill_form({"regions": typed}, ["regions"], form)
    assert [n.split(", so")[0] for n in notes] == ([note] if note else [])
    view = modal_view(form, title="t", callback_id="c", private_metadata="", values=taken)
    initial = view["blocks"][0]["element"].get("initial_options", [])
    assert [o["value"] for o in initial] == chosen


# --- through the bot ------------------------------------------------------------------------------


async def test_a_typo_is_answered_with_what_was_probably_meant(bot: Bot) -> None:
    _, text = await bot.command("strat review")
    assert text == "`/flow strat` is not a command I know. Did you mean `/flow start review`?"
    _, text = await bot.command("frobnicate <!channel>")
    assert text.startswith("`/flow frobnicate` is not a command I know.\n*Lockstep*")
    _, text = await bot.command("start reveiw")
    assert text == (
        "There is no flow called `reveiw`. Did you mean `review`? `/flow list` shows them all."
    )
    _, text = await bot.command("<!channel>")
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


@pytest.mark.parametrize("text", ["", "help", "start", "cancel", "audit", "frobnicate"])
async def test_help_and_usage_write_placeholders_as_text_not_as_slack_links(
    bot: Bot, text: str
) -> None:
    """Slack reads ``<name>`` in a message as a link (to "name"), even in code: a placeholder
    people are to read as ``<name>`` is written ``&lt;name&gt;``."""
    _, reply = await bot.command(text)
    assert "&lt;" in reply
    assert not re.search(r"<(?![@#!]|https?://)", reply), reply


async def test_flow_names_in_any_case_and_unknown_prefill_keys_are_reported(bot: Bot) -> None:
    status, text = await bot.command("START Review Document=Q3 doc=oops")
    assert status == 200
    assert text == (
        "The form has no field `doc`, so I left it out. Its fields: `document`, `author`."
    )
    [opened] = await bot.slack.wait_for("views.open")  # the form opens all the same
    view = opened.response["view"]
    document = next(b for b in view["blocks"] if b.get("block_id") == "f_document")
    assert document["element"]["initial_value"] == "Q3"
    assert (document["optional"], document["label"]["text"]) == (False, "Document (title or link)")
    author = next(b for b in view["blocks"] if b.get("block_id") == "f_author")
    assert author["optional"] is True
    assert view["close"]["text"] == "Cancel"  # closing the entry form starts nothing
    assert assert_valid_surfaces(bot.slack) == 1


async def test_a_value_in_typographic_quotes_prefills_the_form_whole(bot: Bot) -> None:
    name = f"O{APOSTROPHE}Brien"
    status, text = await bot.command(f"start review document={OPEN}Q3 plan{CLOSE} author={name}")
    assert (status, text) == (200, "")
    [opened] = await bot.slack.wait_for("views.open")
    blocks = {b.get("block_id"): b for b in opened.response["view"]["blocks"]}
    assert blocks["f_document"]["element"]["initial_value"] == "Q3 plan"
    assert blocks["f_author"]["element"]["initial_value"] == name


async def test_a_choice_is_prefilled_by_its_label_in_any_case_or_said_to_be_none(
    bot: Bot,
) -> None:
    """``environment=Staging`` (the label people see) chooses staging, not the default
    (production); a value no choice is, is said, not silently replaced by the default."""
    status, text = await bot.command("start deploy service=api environment=Staging")
    assert (status, text) == (200, "")
    [opened] = await bot.slack.wait_for("views.open")
    blocks = {b.get("block_id"): b for b in opened.response["view"]["blocks"]}
    assert blocks["f_environment"]["element"]["initial_option"]["value"] == "staging"
    _, text = await bot.command("start deploy environment=stage colour=red")
    assert text == (
        "The form has no field `colour`, so I left it out. Its fields: `service`, `version`, "
        "`environment`.\n"
        "`environment` has no choice `stage`, so I left it out. Its choices: `staging`, "
        "`production`."
    )
    opened = (await bot.slack.wait_for("views.open", count=2))[-1]
    blocks = {b.get("block_id"): b for b in opened.response["view"]["blocks"]}
    assert blocks["f_environment"]["element"]["initial_option"]["value"] == "production"
    assert assert_valid_surfaces(bot.slack) == 2


async def test_an_entry_form_for_a_channel_lockstep_is_not_in_says_so_as_it_opens(
    bot: Bot,
) -> None:
    """The form opens at once (its trigger lasts 3 s); who is in the channel is asked as it
    does. Where the run could not start, the form turns into the note then, not after the
    person has filled it in and submitted it."""
    status, text = await bot.command("start review", channel="CPRIVATE")
    assert (status, text) == (200, "")
    [opened] = await bot.slack.wait_for("views.open")
    [updated] = await bot.slack.wait_for("views.update")
    assert updated.args["view_id"] == opened.response["view"]["id"]
    assert updated.args["view"]["blocks"][0]["text"]["text"] == (
        "Lockstep is not in this channel, so nothing was started here: invite it "
        "(`/invite @Lockstep`) first."
    )
    await bot.command("start review")  # a channel it is in: the form stays as it is
    await bot.slack.wait_for("views.open", count=2)
    await bot.slack.wait_for("conversations.members", count=2)
    assert len(bot.slack.calls_to("views.update")) == 1
    assert assert_valid_surfaces(bot.slack) == 3


async def test_runs_are_named_by_any_unique_prefix_of_their_id(bot: Bot) -> None:
    engine = bot.lockstep.engine
    for eid in ("abc12345aaaa", "abc12345bbbb", "f00d"):
        parent = await bot.lockstep.bolt.client.chat_postMessage(channel=CHANNEL, text=eid)
        context = {"channel": CHANNEL, "thread_ts": parent["ts"]}
        await engine.start("fragile", {}, Request("fragile", "UALICE", context), execution_id=eid)
        await engine.settled(eid)
    _, listed = await bot.command("status")
    assert "• `abc12345` fragile: awaiting" in listed.splitlines()
    _, text = await bot.command("status abc1")
    assert text == (
        "`abc1` starts the ids of several runs (`abc12345a`, `abc12345b`): give more of it."
    )
    _, text = await bot.command("status ABC12345B")  # any case, any unique length
    assert text.startswith("*fragile* `abc12345`: awaiting")
    _, text = await bot.command("cancel f0")
    assert text == "Run `f00d` is cancelled."
    _, text = await bot.command("audit nope")
    assert text == "There is no run `nope`."
    _, text = await bot.command("status f00d")  # a whole id is always that run
    assert text.startswith("*fragile* `f00d`: 🚫 cancelled by <@UALICE>")


async def test_a_prefix_names_only_runs_its_asker_may_read(bot: Bot) -> None:
    """Where a prefix starts several runs' ids, those of runs the asker may not read (another
    channel's, started by someone else) are neither listed nor counted."""
    engine = bot.lockstep.engine
    for eid, channel, user in (
        ("abc12345aaaa", CHANNEL, "UALICE"),
        ("abc12345cccc", "CELSE", "UEVE"),
    ):
        await engine.start(
            "fragile", {}, Request("fragile", user, {"channel": channel}), execution_id=eid
        )
        await engine.settled(eid)
    _, text = await bot.command("status abc1")
    assert text.startswith("*fragile* `abc12345`: awaiting"), text  # the one Alice may read
    await engine.start(
        "fragile", {}, Request("fragile", "UEVE", {"channel": "CELSE"}), execution_id="abc12345dddd"
    )
    await engine.settled("abc12345dddd")
    _, text = await bot.command("status abc12345c")
    assert text == "Only people in the run's channel, whoever started it, or its admins can see it."
    _, text = await bot.command("status abc12345")  # Alice's, whatever else the prefix starts
    assert text.startswith("*fragile* `abc12345`: awaiting"), text
    _, text = await bot.command("cancel abc12345", user="UEVE")  # Eve may read only her own two
    assert "several runs (`abc12345c`, `abc12345d`)" in text, text


async def test_a_prefix_names_its_askers_run_however_many_others_share_it_first(
    bot: Bot,
) -> None:
    """Runs the asker may not read are not counted, however many of them a short prefix starts
    ahead of theirs: the one they may read is the one it names."""
    engine = bot.lockstep.engine
    runs = [(f"ab{i:02d}eeee", "CELSE", "UEVE") for i in range(8)]
    for eid, channel, user in [*runs, ("abffaaaa", CHANNEL, "UALICE")]:
        await engine.start(
            "fragile", {}, Request("fragile", user, {"channel": channel}), execution_id=eid
        )
        await engine.settled(eid)
    _, text = await bot.command("status ab")
    assert text.startswith("*fragile* `abffaaaa`: awaiting"), text
    _, text = await bot.command("cancel ab", user="UEVE")  # Eve may read eight: some named
    assert text.startswith("`ab` starts the ids of several runs (`ab00eeee`, `ab01eeee`, "), text
    assert text.count("eeee`") == 5  # the first five of them


async def test_errors_in_a_message_name_fields_by_their_labels(bot: Bot) -> None:
    await bot.command("start review")
    [opened] = await bot.slack.wait_for("views.open")
    await bot.submit_view(opened.response["view"], input_value("document", "Q3"), "UALICE")
    await bot.slack.wait_for("chat.postMessage", count=3)  # parent, progress, content review
    [parent] = bot.slack.messages(CHANNEL)
    lock = next(m for m in bot.slack.thread(CHANNEL, parent["ts"]) if "lock_actions" in str(m))
    await bot.click(lock, "lockstep_submit", "UBOB", input_value("score", "9"))
    [note] = await bot.slack.wait_for("chat.postEphemeral")
    assert note.args["text"] == (
        "Please fix the form:\n• *Score (1 to 5)*: Enter a number of at most 5."
    )
    # Slack does not hold a message's required field to it, so the server does
    await bot.click(lock, "lockstep_submit", "UBOB", {})
    notes = await bot.slack.wait_for("chat.postEphemeral", count=2)
    required = "Please fix the form:\n• *Score (1 to 5)*: This field is required."
    assert notes[-1].args["text"] == required


async def test_cancelling_an_ended_run_says_how_it_ended_as_status_does(bot: Bot) -> None:
    lock = await start_without_form(bot, "turnstile")
    await bot.click(lock, "lockstep_cancel", "UBOB")  # "Stay": rejected, the run ends
    parent = bot.slack.messages(CHANNEL)[-1]
    await bot.slack.until(lambda: "rejected" in current(bot, parent)["text"])
    short = re.findall(r"Run `(\w+)`", json.dumps(parent["blocks"]))[0]
    _, text = await bot.command(f"cancel {short}")
    assert text == f"Run `{short}` has already ended (🚫 rejected by <@UBOB>)."
    _, status = await bot.command(f"status {short}")
    assert status.startswith(f"*turnstile* `{short}`: 🚫 rejected by <@UBOB>")
    _, listed = await bot.command("status")  # the list of one's runs says it as well
    assert listed == f"• `{short}` turnstile: 🚫 rejected by <@UBOB>"


async def test_cancel_tells_someone_who_may_not_see_a_run_nothing_of_it(bot: Bot) -> None:
    """Someone outside the run's channel who names it in ``/flow cancel`` is told what
    ``/flow status`` tells them: not who started it, nor whether or how it ended."""
    engine = bot.lockstep.engine
    await engine.start("fragile", {}, Request("fragile", "UALICE", {"channel": CHANNEL}),
                       execution_id="f00dcafe")  # fmt: skip
    await engine.settled("f00dcafe")
    hidden = "Only people in the run's channel, whoever started it, or its admins can see it."
    assert (await bot.command("cancel f00dcafe", user="UOUTSIDER"))[1] == hidden
    assert (await bot.command("cancel f00d", user="UOUTSIDER"))[1] == hidden
    assert (await bot.command("cancel f00dcafe", user="UBOB"))[1] == (
        "Only <@UALICE>, who started this run, can cancel it."
    )  # Bob, in the channel, may see it
    assert (await bot.command("cancel f00dcafe"))[1] == "Run `f00dcafe` is cancelled."
    assert (await bot.command("cancel f00dcafe", user="UOUTSIDER"))[1] == hidden
    events = [(e.kind, e.actor) for e in await bot.lockstep.store.events("f00dcafe")]
    assert events.count(("refused", "UOUTSIDER")) == 2 and ("cancelled", "UALICE") in events
