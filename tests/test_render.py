"""What people read in a run's thread, rendered without Slack (pure): answers and results as
labelled fields, how a run ended, times as date tokens, error notes by label, and what a person
typed shown literally wherever it lands."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import Block as SlackBlock

from bot.render import answers, history, messages, outcome, surfaces
from bot.render.blocks import titled
from bot.render.mrkdwn import literal, markdown_to_mrkdwn, split_heading
from bot.render.outcome import Ending
from flows.app import Response
from flows.codec import encode
from flows.engine import Answer, Call, Decision, Event, Execution
from flows.errors import GLOBAL, LockExpired, LockRejected
from flows.forms import (
    HR,
    Cancel,
    InputArea,
    InputDateTime,
    InputNumber,
    InputOption,
    InputPassword,
    InputText,
    Markdown,
    Model,
    MultiSelect,
    Submit,
    UserSelect,
)
from flows.policy import make_policy

AT = 1_796_000_000.0
HOSTILE = "<!channel> *now* <https://evil.example|your bank> <@U0BOSS> &amp;"


def run(status: str = "finished", **change: Any) -> Execution:
    found = Execution(
        id="4f1c9e2ab3d54e6f8a7b9c0d1e2f3a4b", flow="deploy", runner="m:f", inputs={},
        status=status, initiator="UALICE", context={}, result=None, error=None,
        created_at=AT - 60, updated_at=AT + 5, owner=None, heartbeat_at=None, wakeups=0,
        progress=0,
    )  # fmt: skip
    return found.model_copy(update=change)


FORM = Model(
    Markdown("# Deploy approval\nShip it?"),
    InputText("comment", "Comment"),
    InputPassword("token", "Token"),
    InputNumber("amount", "Amount (EUR)"),
    MultiSelect("regions", (InputOption("eu", "Europe"), InputOption("us", "Americas")), "Regions"),
    UserSelect("owner", "Owner"),
    InputDateTime("when", "When"),
    Submit("Approve"),
    Cancel("Reject"),
).to_json()


def lock(status: str = "resolved", seq: int = 1, **change: Any) -> Call:
    found = Call(
        id=f"lock-{seq}", execution_id="4f1c9e2ab3d54e6f8a7b9c0d1e2f3a4b", seq=seq, kind="lock",
        name="deploy_approval", status=status, data={}, form=FORM, result=None, actor="UBOB",
        comment=None, deadline=AT, created_at=AT - 30, decided_at=AT + seq, posted=True,
        message=None, policy=None,
    )  # fmt: skip
    return found.model_copy(update=change)


def assert_valid(blocks: list[dict[str, Any]]) -> None:
    for block in blocks:
        parsed = SlackBlock.parse(block)
        assert parsed is not None and parsed.to_dict() == block, block


def cells(blocks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(label words, value text object) for every field row."""
    found = []
    for block in blocks:
        row = block.get("fields", [])
        found += [(a["text"].strip("*"), b) for a, b in zip(row[::2], row[1::2], strict=True)]
    return found


# --- what a person typed stays text ------------------------------------------------------------


def test_typed_text_never_becomes_a_mention_a_link_or_formatting() -> None:
    assert literal(HOSTILE) == (
        "&lt;!channel&gt; *now* &lt;https://evil.example|your bank&gt; &lt;@U0BOSS&gt; &amp;amp;"
    )
    blocks = answers.answer_blocks(FORM, {"comment": HOSTILE}, comment=HOSTILE)
    assert_valid(blocks)
    for _, value in cells(blocks):  # plain text: Slack parses nothing in it
        assert value == {"type": "plain_text", "text": HOSTILE, "emoji": False}
    # a flow that puts such a value into its Markdown shows it as text too (as a browser
    # would: a character reference as the character it names)
    assert markdown_to_mrkdwn(f"Review: {HOSTILE}") == f"Review: {literal(HOSTILE)}".replace(
        "*now*",
        "_now_",  # Markdown's emphasis, mrkdwn's italics
    ).replace("&amp;amp;", "&amp;")
    assert markdown_to_mrkdwn("See [the policy](https://example.com/p?a=1&b=2)") == (
        "See <https://example.com/p?a=1&amp;b=2|the policy>"
    )


def test_an_llm_report_s_tables_rules_and_strikes_read_in_slack() -> None:
    """What LLM agents write in the Markdown they hand ``tracer.markdown``: a table (mrkdwn has
    none: a code block, columns lined up), a rule, ``~~struck~~`` (mrkdwn: ``~struck~``)."""
    report = """
        ## Findings

        | Vendor | **Score** | Note |
        |:-------|------:|------|
        | Acme | 9 | `fast` |
        | Globex Corp | 7 | <@U0BOSS> |

        ---
        Budget ~~1.2M~~ 0.9M
        """
    assert markdown_to_mrkdwn(report) == "\n".join(
        [
            "*Findings*",
            "",
            "```",
            "Vendor      | Score | Note",
            "Acme        | 9     | fast",
            "Globex Corp | 7     | &lt;@U0BOSS&gt;",
            "```",
            "",
            "\u2500" * 20,
            "Budget ~1.2M~ 0.9M",
        ]
    )


def test_html_struck_text_code_and_rules_keep_their_meaning() -> None:
    """``<del>`` was dropped, so a struck price read as current; ``<code>`` lost its marks."""
    shown = surfaces.progress("html", "<p>Price <del>$120</del> $90</p><hr><code>a*b</code>")
    assert shown == "Price ~$120~ $90\n\n" + "\u2500" * 20 + "\n`a*b`"


def test_a_value_that_looks_like_a_user_id_is_a_mention_only_in_a_person_field() -> None:
    value = {"owner": "U0BOB", "comment": "U0BOB", "reviewer": "U0BOB"}
    shown = dict(cells(answers.answer_blocks(FORM, value)))
    assert shown["Owner"] == {"type": "mrkdwn", "text": "<@U0BOB>", "verbatim": True}
    assert shown["Comment"]["type"] == shown["Reviewer"]["type"] == "plain_text"
    forged = dict(cells(answers.answer_blocks(FORM, {"owner": "<!channel>"})))
    assert forged["Owner"]["type"] == "plain_text"  # not a user id: shown as typed
    # a run's result: keys named like a person field of the run's forms may mention
    result = dict(cells(answers.result_blocks({"owner": "U0BOB", "by": "U0BOB"}, [FORM])))
    assert result["Owner"]["text"] == "<@U0BOB>" and result["By"]["type"] == "plain_text"


def test_answers_read_as_their_fields_say() -> None:
    when = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    value = encode(
        {
            "comment": "",
            "token": "hunter2",
            "amount": 120.0,
            "regions": ["eu", "us"],
            "when": when,
            "extra_note": True,
        }
    )
    blocks = answers.answer_blocks(FORM, value)
    assert_valid(blocks)
    shown = {label: v["text"] for label, v in cells(blocks)}
    assert shown == {
        "Token": messages.HIDDEN,  # a password is never shown
        "Amount (EUR)": "120",
        "Regions": "Europe, Americas",  # the options' labels
        "When": f"<!date^{int(when.timestamp())}^{{date_short}} {{time}}|2026-11-30 14:00 UTC>",
        "Extra note": "Yes",  # a key no field has, readable
    }  # the blank comment is left out
    only = Model(InputArea("notes", "Notes"), Submit()).to_json()
    assert cells(answers.answer_blocks(only, "just this")) == [
        ("Notes", {"type": "plain_text", "text": "just this", "emoji": False})
    ]


def test_many_answers_are_capped_and_say_so() -> None:
    blocks = answers.result_blocks({f"k{i}": i for i in range(30)}, [])
    assert_valid(blocks)
    assert len(cells(blocks)) == answers.MAX_PAIRS
    assert all(len(b.get("fields", [])) <= 10 for b in blocks)
    assert blocks[-1]["elements"][0]["text"].startswith("…and 10 more")


def test_the_comment_of_an_answer_with_many_fields_is_shown() -> None:
    """The comment came after the fields, so past ``MAX_PAIRS`` of them it was among those
    counted as "more": the decider's comment showed nowhere in the message."""
    wide = Model(*(InputText(f"f{i}", f"Field {i}") for i in range(25)), Submit()).to_json()
    blocks = answers.answer_blocks(wide, {f"f{i}": "x" for i in range(25)}, "only on Tuesday")
    assert_valid(blocks)
    shown = cells(blocks)
    assert len(shown) == answers.MAX_PAIRS
    assert shown[-1] == (messages.COMMENT_LABEL, answers.value_object(None, "only on Tuesday"))
    assert blocks[-1]["elements"][0]["text"].startswith("…and 6 more")


# --- how a run ended ---------------------------------------------------------------------------


def test_a_rejection_the_flow_caught_still_reads_rejected() -> None:
    rejected = lock("rejected", comment="not on Friday")
    ended = outcome.conclude(run(result={"deployed": False}), [rejected])
    assert ended == outcome.Conclusion(
        Ending.REJECTED, AT + 1, ("UBOB",), "deploy_approval", "not on Friday"
    )
    text, blocks = surfaces.parent(run(), "Deploy approval", [], ended)
    assert text == "*Deploy approval* · started by <@UALICE> · 🚫 rejected by <@UBOB>"
    assert blocks[1]["elements"][0]["text"] == "Run `4f1c9e2a`"  # a short id
    line, rendered = surfaces.ending(ended, {"deployed": False}, [FORM])
    assert line.startswith("🚫 *Rejected* by <@UBOB> · <!date^1796000001^")
    assert_valid(rendered)
    shown = {label: v["text"] for label, v in cells(rendered)}
    assert shown == {"Comment": "not on Friday", "Deployed": "No"}


def test_an_uncaught_rejection_reads_rejected_not_cancelled() -> None:
    rejected = lock("rejected", comment="no")
    error = str(LockRejected("deploy_approval", "UBOB", AT + 1, "no"))
    assert outcome.conclude(run("cancelled", error=error), [rejected]).ending is Ending.REJECTED
    cancel = Event(
        id=9, execution_id="x", at=AT, kind="cancelled", actor="UALICE", call_id=None,
        detail={"reason": "cancelled by UALICE"},
    )  # fmt: skip
    by_hand = outcome.conclude(run("cancelled", error="cancelled by UALICE"), [], [cancel])
    assert (by_hand.ending, by_hand.people, by_hand.reason) == (
        Ending.CANCELLED, ("UALICE",), None,
    )  # fmt: skip
    assert surfaces.ending_words(by_hand) == "🚫 cancelled by <@UALICE>"


def test_expiries_failures_and_plain_answers() -> None:
    expired = lock("expired", actor=None)
    stopped = LockExpired("deploy_approval", AT)
    error = f"LockExpired: {stopped}"
    assert outcome.conclude(run("error", error=error), [expired]).ending is Ending.EXPIRED
    failed = outcome.conclude(run("error", error="KeyError: 'x'"), [expired])
    assert (failed.ending, failed.reason) == (Ending.FAILED, "KeyError: 'x'")
    line, blocks = surfaces.ending(failed, None, [])
    assert line.startswith("❌ *Failed*") and cells(blocks)[0][1]["text"] == "KeyError: 'x'"
    assert outcome.conclude(run(), []).ending is Ending.FINISHED  # no lock at all
    question = Model(InputText("name", "Name"), Submit()).to_json()
    answered = lock(form=question, result={"name": "Aurora"})
    assert outcome.conclude(run(), [answered]).ending is Ending.FINISHED  # not an approval
    automatic = lock(actor=None, result={"ok": True})
    auto = outcome.conclude(run(), [automatic])
    assert (auto.ending, auto.people) == (Ending.APPROVED, ())
    assert surfaces.ending_words(auto) == "✅ approved automatically"
    later = lock("resolved", seq=2)  # the last decision counts: resubmitted and approved
    assert outcome.conclude(run(), [lock("rejected"), later]).ending is Ending.APPROVED
    with pytest.raises(ValueError, match="has not ended"):
        outcome.conclude(run("awaiting"), [])


# --- a decided lock -----------------------------------------------------------------------------


def test_a_decided_lock_shows_its_answer_who_and_when() -> None:
    decided = lock(result={"comment": "ship it", "amount": 3})
    text, blocks = surfaces.decided(decided)
    assert_valid(blocks)
    assert text == f"Deploy approval: ✅ Approved by <@UBOB> · {messages.when(AT + 1)}"
    assert blocks[0]["text"]["text"] == "Deploy approval"  # the heading, once
    assert "Deploy approval" not in json.dumps(blocks[1:-1])
    assert {label: v["text"] for label, v in cells(blocks)} == {
        "Comment": "ship it",
        "Amount (EUR)": "3",
    }
    question = lock(form=Model(InputText("name", "Name"), Submit()).to_json(), result="Aurora")
    assert "✅ Answered by <@UBOB>" in surfaces.decided(question)[0]
    quoting = Model(Markdown(f"# Review {HOSTILE}"), Submit(), Cancel()).to_json()
    text, shown = surfaces.decided(lock(form=quoting))
    assert text.startswith(f"Review {literal(HOSTILE)}: ✅ Approved by <@UBOB>")
    assert shown[0]["text"] == {"type": "plain_text", "text": f"Review {HOSTILE}"}
    rejected = surfaces.decided(lock("rejected", comment=HOSTILE))[1]
    [(label, said)] = cells(rejected)
    assert (label, said["type"], said["text"]) == ("Comment", "plain_text", HOSTILE)


def test_times_are_date_tokens_with_a_utc_fallback() -> None:
    assert messages.when(1796047200.0) == (
        "<!date^1796047200^{date_short_pretty} at {time}|14:00 UTC on Nov 30>"
    )
    assert messages.when(None) == messages.UNKNOWN_TIME
    late = surfaces.already_decided(lock())
    assert late == f"Already answered by <@UBOB> ({messages.when(AT + 1)})."


def test_error_notes_name_fields_by_their_labels() -> None:
    errors = {"amount": ["Enter a number."], "_global_": ["Try again."], "gone": [HOSTILE]}
    assert surfaces.error_list(errors, FORM) == (
        "Please fix the form:\n• *Amount (EUR)*: Enter a number.\n• *Form*: Try again.\n"
        f"• *gone*: {literal(HOSTILE.replace('&amp;', '&'))}"  # entities read as HTML's
    )


def test_a_status_history_reads_labels_and_typed_text_literally() -> None:
    answered = Event(
        id=1, execution_id="x", at=AT, kind="lease", actor="UBOB", call_id="lock-1",
        detail={"inputs": {"comment": HOSTILE, "token": "***", "amount": 2}},
    )  # fmt: skip
    rejected = lock("rejected", comment=HOSTILE)
    text = history.status(run(), [rejected], [answered])
    assert text.splitlines()[0] == "*deploy* `4f1c9e2a`: 🚫 rejected by <@UBOB>"
    assert f"Comment={literal(HOSTILE)}, Token=***, Amount (EUR)=2" in text
    assert "<!channel>" not in text and "<@U0BOSS>" not in text


@pytest.mark.parametrize(
    ("actor", "reason", "shown"),
    [
        ("UALICE", "cancelled by UALICE", "cancelled by <@UALICE>"),  # the engine's own words
        ("api:ci", "cancelled by ci (API)", "cancelled by ci"),
        ("api:ci", "killed by ci (API)", "cancelled by ci"),
        ("UALICE", "wrong <@U0BOSS> doc", "cancelled by <@UALICE>: wrong &lt;@U0BOSS&gt; doc"),
        ("UALICE", "cancelled by UBOB", "cancelled by <@UALICE>: cancelled by UBOB"),
    ],
)
def test_a_cancellation_in_a_history_says_why_only_when_someone_said(
    actor: str, reason: str, shown: str
) -> None:
    """Cancelled without a reason, a run's history says who cancelled it once, as a mention,
    not again as the raw id the engine recorded in its place."""
    event = Event(
        id=1, execution_id="x", at=AT, kind="cancelled", actor=actor, call_id=None,
        detail={"reason": reason},
    )  # fmt: skip
    assert history.line(event, None) == shown


def test_a_lock_naming_hundreds_of_approvers_names_fifty_and_counts_the_rest() -> None:
    people = (*(f"U{i:04d}" for i in range(120)), "channel")
    said = messages.asked(people)
    assert said.startswith("<@U0000>, <@U0001>")
    assert said.endswith("<@U0049> and 70 more or members of this channel")
    assert messages.asked(("U1", "S2")) == "<@U1> or <!subteam^S2>"


@pytest.mark.parametrize(
    ("name", "form", "approvers", "text"),
    [
        (
            "prompt.approval",
            Model(Markdown("Ship *v2* to\neveryone?"), Submit("Approve"), Cancel("Reject")),
            [],
            "Approval: Ship _v2_ to",
        ),
        (
            "prompt.input",
            Model(InputText("value", "Release <name>?", required=True)),
            ["U1", "S2"],
            "Input for <@U1> or <!subteam^S2>: Release &lt;name&gt;?",
        ),
        ("deploy_approval", Model(Markdown("Ship?")), [], "Deploy approval: waiting for an answer"),
    ],
)
def test_a_prompt_s_message_text_says_what_it_asks(
    name: str, form: Model, approvers: list[str], text: str
) -> None:
    """A lock message's text is its notification: a typed prompt (``tracer.approve``, ``ask``
    ...) says what it asks, not only "Input: waiting for an answer"."""
    policy = make_policy(3600, approvers=approvers).to_json()
    shown = lock("open", name=name, form=form.to_json(), policy=policy)
    assert surfaces.lock_message(shown)[0] == text


# --- titles ---------------------------------------------------------------------------------------


def test_a_form_is_titled_by_its_opening_heading_once() -> None:
    assert split_heading("## **Expense**: [policy](https://x)\nbody") == (
        "Expense: policy",
        "body",
    )
    assert split_heading("Not a heading\n# later") == (None, "Not a heading\n# later")
    assert split_heading("    Expense\n    =======\n    body") == ("Expense", "body")  # setext
    title, rest = titled(FORM, "Deploy approval lock")
    assert title == "Deploy approval" and rest[0]["text"] == "Ship it?"
    only = Model(Markdown("# Just a title"), InputText("a")).to_json()
    emptied = [{"type": "markdown", "text": ""}, *only[1:]]  # kept in its place: Action ids
    assert titled(only, "x") == ("Just a title", emptied)  # count places; it shows nothing
    assert titled(Model(InputText("a")).to_json(), "Lock name")[0] == "Lock name"


def test_a_rejection_of_a_quorum_lock_says_how_many_approvals_are_left() -> None:
    bob = Response("UBOB", True, {}, None, 1.0)
    carol = Response("UCAROL", False, {}, "no", 2.0)

    def told(quorum: int) -> str:
        policy = make_policy(None, approvers=["UBOB", "UCAROL", "UDAN"], quorum=quorum, veto=False)
        opened = lock("open", policy=policy.to_json())
        decision = Decision(Answer.COUNTED, opened, responses=(bob, carol))
        return surfaces.quorum_reply(decision, declined=True)

    assert told(3) == (
        "Your rejection is recorded; this still needs 2 more approvals (1 of 3 so far)."
    )
    assert told(2).endswith("still needs 1 more approval (1 of 2 so far).")


def test_an_approval_sent_twice_at_once_is_not_told_the_quorum_needs_more() -> None:
    """Carol's approval came twice at once (from the thread and her Home's modal): one of the
    two completes the quorum; the other is told she approved, not that it needs one more."""
    bob = Response("UBOB", True, {}, None, 1.0)
    carol = Response("UCAROL", True, {}, None, 2.0)
    opened = lock("open", policy=make_policy(None, quorum=2).to_json())
    met = Decision(Answer.REPEAT, opened, responses=(bob, carol))
    assert surfaces.quorum_reply(met) == (
        "You have already approved this; with it, 2 of 2 have approved."
    )
    short = Decision(Answer.REPEAT, opened, responses=(carol,))
    assert surfaces.quorum_reply(short) == (
        "You have already approved this; it needs 1 more from someone else."
    )


def test_a_set_reads_as_its_members_in_order_wherever_it_is() -> None:
    assert answers.text({"b", "it's", "a"}) == "a, b, it's"
    assert answers.text({10, 2, 1}) == "1, 2, 10"
    assert answers.text({"tags": {"b", "a"}}) == '{"tags": ["a", "b"]}'


@pytest.mark.parametrize("quorum", [1, 2])
def test_a_lock_message_stays_within_50_blocks_with_its_title_errors_and_quorum(
    quorum: int,
) -> None:
    """However many blocks a form's text takes, the lock's message (its title, a quorum's
    progress, a refusal's warning on top) is at most 50 blocks: a form near the limit opens
    as a modal instead of failing to render."""
    for dividers in range(40, 52):
        form = Model(*[HR()] * dividers, InputText("a", "A"), Submit("Go"), Cancel("No"))
        policy = make_policy(None, quorum=quorum)
        opened = lock("open", form=form.to_json(), policy=policy.to_json())
        for errors in (None, {GLOBAL: ["Try again"]}):
            _, blocks = surfaces.lock_message(opened, errors, None, ["UBOB"])
            assert len(blocks) <= 50, (dividers, errors)
            assert_valid(blocks)


def test_a_late_answer_to_a_lock_its_deadline_decided_is_told_so_not_someone() -> None:
    """``on_timeout="reject"`` or ``("approve", value)`` decided the lock, no person: a late
    answer is told that, as its message says, not "Already rejected by someone"."""
    rejected = surfaces.already_decided(lock("rejected", actor=None, comment="no answer"))
    assert rejected.startswith(
        "Already rejected automatically, with no answer by the deadline (<!date^"
    ), rejected
    approved = surfaces.already_decided(lock("resolved", actor=None))
    assert approved.startswith("Already approved automatically, with no answer by the deadline")
    assert surfaces.already_decided(lock("rejected")).startswith("Already rejected by <@UBOB> (")


def test_a_refused_answer_too_long_to_show_again_keeps_its_message_within_slack_s_size() -> None:
    """Long answers to a form of text areas, refused: the message shows the errors again, and
    leaves out the values when they would take it past the size Slack takes (it refuses
    such a message with ``msg_blocks_too_long``, and the refusal would show nowhere)."""
    form = Model(*[InputArea(f"a{i}", f"Answer {i}") for i in range(5)], Submit("Send"))
    opened = lock("open", form=form.to_json())
    values = {f"a{i}": "long answer " * 250 for i in range(5)}
    _, blocks = surfaces.lock_message(opened, {"a0": ["Too vague"]}, values)
    assert len(json.dumps(blocks, ensure_ascii=False)) <= 12_000
    assert_valid(blocks)
    assert [b["hint"]["text"] for b in blocks if "hint" in b] == ["⚠️ Too vague"]
    short = {"a0": "short", "a1": "also short"}
    _, blocks = surfaces.lock_message(opened, {"a0": ["Too vague"]}, short)
    shown = [b["element"].get("initial_value") for b in blocks if b["type"] == "input"]
    assert shown[:2] == ["short", "also short"]


def test_a_lock_answered_at_length_shows_its_decision_within_slack_s_size() -> None:
    """Twenty text areas answered at length: the decided message (and the run's ending, its
    result as fields) cuts the values shorter rather than go past the size Slack takes, where
    the update would be refused and the message keep its buttons."""
    form = Model(*[InputArea(f"a{i}", f"Answer number {i}") for i in range(20)], Submit("Send"))
    value = {f"a{i}": "a long considered answer " * 40 for i in range(20)}
    answered = lock("resolved", form=form.to_json(), result=encode(value), comment="ok " * 900)
    _, blocks = surfaces.decided(answered)
    assert len(json.dumps(blocks, ensure_ascii=False)) <= 12_000
    assert_valid(blocks)
    assert [label for label, _ in cells(blocks)][:2] == ["Answer number 0", "Answer number 1"]
    assert all(v["text"].endswith("…") for _, v in cells(blocks))
    conclusion = outcome.conclude(run(), [answered], [])
    _, ending = surfaces.ending(conclusion, encode(value), [form.to_json()])
    assert len(json.dumps(ending, ensure_ascii=False)) <= 12_000
    assert_valid(ending)
    short = lock("resolved", form=form.to_json(), result=encode({"a0": "fine"}))
    assert cells(surfaces.decided(short)[1])[0][1]["text"] == "fine"  # a short one stays whole


def test_long_refusals_keep_a_lock_message_within_slack_s_size() -> None:
    """A lease's refusal quoting at length (a 3000-character global message, one as long under
    each field) on a form of long labels took the lock's message past the size Slack takes:
    refused with ``msg_blocks_too_long``, it kept its old form and no error showed on it."""
    form = Model(*(InputText(f"f{i}", "Label " * 50 + str(i)) for i in range(12)), Submit())
    opened = lock("open", form=form.to_json(), policy=make_policy(3600, quorum=2, approvers=[
        f"U{i:010d}" for i in range(200)]).to_json())  # fmt: skip
    cases = [
        {GLOBAL: ["Not like this: " + "x" * 3000]},
        {f"f{i}": ["Not like this: " + "e" * 3000] for i in range(12)},
        {
            GLOBAL: ["g" * 3000, "h" * 3000],
            **{f"f{i}": ["e" * 3000, "d" * 3000] for i in range(12)},
        },
    ]
    for errors in cases:
        _, blocks = surfaces.lock_message(
            opened, errors, approvers=[f"U{i:010d}" for i in range(199)]
        )
        assert_valid(blocks)
        assert len(json.dumps(blocks, ensure_ascii=False)) <= 12_000
        shown = json.dumps(blocks)
        assert "Not like this" in shown or "ggg" in shown  # the refusal shows, shortened
        assert any(b["type"] == "input" for b in blocks)  # still the form, answerable here


def test_a_snooze_button_counts_in_what_a_lock_message_holds() -> None:
    """Snooze was added to the buttons after the form was fitted to the message: a form that
    only just fitted went past the size Slack takes, and Slack refused the lock's message."""
    policy = make_policy(3600, snooze=600).to_json()
    for text in range(10_500, 11_800, 25):
        form = Model(Markdown("m " * (text // 2)), InputText("a", "A"), Submit()).to_json()
        for errors in (None, {GLOBAL: ["Not now"], "a": ["Too short"]}):
            _, blocks = surfaces.lock_message(lock("open", form=form, policy=policy), errors)
            assert_valid(blocks)
            assert len(json.dumps(blocks, ensure_ascii=False)) <= 12_000, (text, errors)
            [actions] = [b for b in blocks if b["type"] == "actions"]
            assert actions["elements"][-1]["action_id"] == surfaces.SNOOZE_ACTION


def test_a_quorum_of_hundreds_is_named_whole_mentions_and_a_count() -> None:
    """Each list of people was cut where the text's limit fell (3000 characters, about 210
    mentions): the lock's message ended in half a mention and never said how many more."""
    people = [f"U{i:010d}" for i in range(250)]
    policy = make_policy(3600, quorum=250, approvers=people).to_json()
    decided = lock("resolved", policy=policy, result={"approved": True})
    _, blocks = surfaces.decided(decided, people)
    assert_valid(blocks)
    line = blocks[-1]["elements"][0]["text"]
    assert " and 200 more" in line and line.count("<@") == 50
    assert line.count("<@") == line.count(">") - line.count("<!date")  # each mention whole
    text, blocks = surfaces.lock_message(lock("open", policy=policy), approvers=people[:249])
    asked, quorum = [b["elements"][0]["text"] for b in blocks if b["type"] == "context"]
    assert " and 199 more" in quorum and quorum.count("<@") == 50
    assert asked.endswith(" and 200 more.") and asked.count("<@") == 50  # whom it asks
    assert text.endswith(" and 200 more") and text.count("<@") == 50
    assert " and 200 more" in surfaces.already_decided(decided, people, "UOTHER")
