"""Every sentence the bot says to people, in one place. They are mrkdwn: a ``<`` or ``>`` that
is text is written ``&lt;``/``&gt;`` (Slack reads ``<name>`` as a link, even in code)."""

from __future__ import annotations

import re

from bot.render.mrkdwn import literal
from flows.when import clock

_PERSON = re.compile(r"[UWS][A-Z0-9]{1,40}")  # a user (U…, W…) or a user group (S…)

HELP = (
    "*Lockstep* runs workflows that wait for people.\n"
    "• `/flow list`: the flows you can start\n"
    "• `/flow start &lt;name&gt; [key=value ...]`: start one (its form opens, prefilled)\n"
    "• `/flow status [id]`: one run with its open steps and history, or your recent runs\n"
    "• `/flow audit &lt;id&gt;`: a run's whole audit trail, as a JSON file sent to you\n"
    "• `/flow cancel &lt;id&gt;`: cancel a run you started (or one of the flow's admins)\n"
    "• `/flow help`: this message\n"
    "A run's id may be shortened to its first few characters, as shown with each run."
)
NO_FLOWS = "No flows are loaded."
UNKNOWN_COMMAND = "`/flow {word}` is not a command I know."
DID_YOU_MEAN = "`/flow {word}` is not a command I know. Did you mean `{meant}`?"
UNKNOWN_FLOW = "There is no flow called `{name}`."
MEANT_FLOW = "Did you mean `{name}`? `/flow list` shows them all."
START_USAGE = "Say which flow to start: `/flow start &lt;name&gt;`. Try `/flow list`."
UNKNOWN_KEYS = "The form has no field {keys}, so I left it out. Its fields: {fields}."
NO_FIELDS = "none"
UNKNOWN_CHOICE = "`{field}` has no choice {value}, so I left it out. Its choices: {choices}."
CHOICES_LISTED = 10
CANCEL_USAGE = "Say which run to cancel: `/flow cancel &lt;id&gt;`."
UNKNOWN_EXECUTION = "There is no run `{id}`."
AMBIGUOUS_RUN = "`{id}` starts the ids of several runs ({ids}): give more of it."
RUN_LINE = "• `{id}` {flow}: {status}"
NOT_INITIATOR = "Only {who}, who started this run, can cancel it."
NOT_MANAGER = "Only {who}, who started this run, or {admins} can cancel it."
ALREADY_ENDED = "Run `{id}` has already ended ({status})."
CANCELLED = "Run `{id}` is cancelled."
AUDIT_USAGE = "Say which run: `/flow audit &lt;id&gt;`."
AUDIT_COMING = "The audit trail of run `{id}` is on its way to you as a file."
AUDIT_FILE = "Audit trail of *{flow}* run `{id}` ({count} events)."
EARLIER_EVENTS = "  … {count} earlier events: `/flow audit {id}` has them all."
NOT_VISIBLE = "Only people in the run's channel, whoever started it, or its admins can see it."
NO_RUNS = "You have not started any runs yet."
BAD_ARGUMENT = "I could not read `{text}`: write inputs as `key=value`."
FIX_FIELDS = "Please fix the form:\n{errors}"
LEASE_FAILED = (
    "Something went wrong while saving your answer (error id `{error_id}`). "
    "The form is still open: try again, or tell your admin the error id."
)
LOCK_GONE = "This form no longer exists."
NO_ANSWER = (
    "Slack did not say in time whether you may do that, so nothing changed. Try again in a moment."
)
NOT_THIS_MESSAGE = "That button does not belong to the form it was on, so nothing changed."
NOT_SHOWN_YET = "This form is still being posted: try again in a moment."
FORM_UNKNOWN = "This form cannot be submitted: it was not one Lockstep opened. Nothing changed."
FORM_UNREADABLE = "The form's values could not be read, so nothing changed. Try again."
TOO_LONG_COMMAND = (
    "That is too long for a command ({used} characters; at most {limit}). Nothing was started."
)
SLACK_FAILED = (
    "Slack did not take Lockstep's reply just now. What you did shows in the run's thread if "
    "it went through; if it did not, try again in a moment."
)
NOT_INSTALLED = (
    "Lockstep is not installed in this workspace (or no longer is). Ask a workspace admin to "
    "install it; nothing was done."
)
FOLLOW_UP_FAILED = (
    "Something went wrong while handling that (error id `{error_id}`). If the form is still "
    "open, try again; if it keeps failing, tell your admin the error id."
)
FORM_REFUSED = "The form was not accepted."  # a handler refused it without saying why
CANNOT_START = {  # the flow's code failed at its entry; by ``EntryProblem``
    "crashed": "*{flow}* could not start: its entry handler failed.",
    "not_launch": "*{flow}* could not start: its entry handler returned {detail}, not Launch.",
    "entry_point": "*{flow}* could not start: its entry point `{detail}` cannot be loaded.",
    "not_storable": "*{flow}* could not start: the inputs it was given cannot be recorded.",
}
NOTHING_STARTED = " Nothing was started. Tell the flow's owner the error id `{error_id}`."

REMINDER = "⏰ {people}*{title}* has waited {waited}; it expires in {left}. {link}"
OVERDUE = "⏰ {people}*{title}* is overdue by {late}; it stays open until someone answers. {link}"
ESCALATED = "📣 {people}: you can now answer *{title}* (waiting for {waited}). {link}"
ESCALATED_DM = "📣 You have been asked to answer *{title}* in <#{channel}>. {link}"
SNOOZED = "⏰ {who} snoozed *{title}*: it now waits until {when}."
SNOOZE_BUTTON = "Snooze +{by}"
CANNOT_SNOOZE = "This form cannot be snoozed."
OPEN_LINK = "<{url}|Open the form>"
QUORUM_WAITING = "👥 Needs approval from {needed} different people."
QUORUM_PROGRESS = "👥 Approved by {who}: {count} of {needed}."
COUNTED = "Your approval is counted: {count} of {needed}."
DECLINE_COUNTED = (
    "Your rejection is recorded; this still needs {left} more {approvals} "
    "({count} of {needed} so far)."
)
REPEAT = "You have already approved this; it needs {left} more from someone else."
REPEAT_MET = "You have already approved this; with it, {count} of {needed} have approved."
FORBIDDEN = "Only {who} can decide this."
FOUR_EYES = "You started this run, so someone else has to decide this."

PARENT = "*{summary}* · started by {who} · {status}"
RUN_ID = "Run `{id}`"
SHORT_ID = 8
UNKNOWN_ERROR = "unknown error"
WAITING = "{title}: waiting for an answer"
WAITING_FOR = "{title}: waiting for an answer from {who}"
ASKING = "{title}: {prompt}"  # a typed prompt's lock (tracer.approve, ask...): what it asks
ASKING_FOR = "{title} for {who}: {prompt}"
PROMPT_CHARS = 200
ASKED = "Waiting for {who}."
ERROR_LINE = "• *{field}*: {message}"
FORM_FIELD = "Form"  # what an error for the form as a whole is shown under
WARNING_PREFIX = "⚠️ "
NOTHING_TO_SHOW = "…"  # output with no text Slack can show (an HTML divider)
AUDIT_TITLE = "Audit trail {id}"
NOTICE_TITLE = "Lockstep"
CLOSE = "Close"

SUBMIT_TEXT = "Submit"
CANCEL_TEXT = "Cancel"
OPEN_TEXT = "Open form"
MODAL_TITLE = "Lockstep"
EMPTY_FORM_TEXT = "Nothing to fill in."
MORE_TEXT = "_…the rest is in the form._"

# The App Home, and starting a flow from it or from the global shortcut
START_A_FLOW = "Start a flow"
NEXT_TEXT = "Next"
HOME_WAITING = "Waiting for you"
HOME_NOTHING_WAITING = "Nothing waits for you. 🎉"
HOME_LOCK = "*{title}*\n{flow}run `{id}`, started by {who}"
HOME_DUE = "⏰ Due {when}"
HOME_THREAD = "Open the thread"
HOME_ANSWER = "Answer"
HOME_MORE = "… and more: only the {count} newest are listed."
HOME_RUNS = "Your recent runs"
HOME_RUN = "• `{id}` {summary}: {state}"
NOT_YOURS = "This form waits for someone else: you cannot answer it."
CHOOSE_FLOW_LABEL = "Flow"
CHOOSE_FLOW_PLACEHOLDER = "Choose a flow"
CHOOSE_CHANNEL_LABEL = "Channel"
CHOOSE_CHANNEL_HINT = "The run's thread goes there, and its channel's members may answer it."
CHOSEN_UNKNOWN = "That flow is not loaded any more. Nothing was started."
CHOSEN_NO_CHANNEL = "Choose a channel: the run's thread goes there."
CHOSEN_NOT_MEMBER = "You are not in that channel: choose one you are in."
ENTRY_NOT_MEMBER = "You are no longer in the channel this form was for, so nothing was started."
START_NOT_MEMBER = "You are not in this channel, so nothing was started here."
# Slack tells a bot nothing of a private channel it was not invited to
INVITE = "invite it (`/invite @Lockstep`)"
CHOSEN_UNSEEN = f"Lockstep is not in that channel: {INVITE}, or choose another."
ENTRY_UNSEEN = (
    f"Lockstep is not in the channel this form was for, so nothing was started: {INVITE} and"
    " try again."
)
START_UNSEEN = f"Lockstep is not in this channel, so nothing was started here: {INVITE} first."

# One line of a run's history per audit event: {who} acted on {what} (a lock, or the run);
# the other fields come from the event's detail.
EVENT_LINES = {
    "started": "started by {who}{inputs}",
    "lock_opened": "{what} waits for an answer",
    "lease": "{who} answered {what}{inputs}",
    "approved": "{who} approved {what}{inputs}",
    "quorum": "{what} decided: approved by {approvers}",
    "declined": "{who} rejected {what}{said}",
    "rejected": "{who} rejected {what}{said}",
    "invalid": "{who}'s answer to {what} was refused: {errors}",
    "lease_failed": "{who}'s answer to {what} failed (error id `{error_id}`)",
    "refused": "{who} may not {action} {what}",
    "reminded": "reminder sent for {what}",
    "overdue": "{what} is overdue; reminder sent",
    "escalated": "{what} escalated to {to}",
    "missed": "the {timer} for {what} due {due} was never sent: no bot was running then, and "
    "{instead} came with it",
    "expired": "{what} expired with no answer (then: {then})",
    "snoozed": "{who} snoozed {what} by {by}",
    "cancelled": "cancelled by {who}{reason}",
    "progress": "{level}: {text}",
    "woke": "a durable sleep ended",
    "status": "the run is {status}",
    "finished": "finished",
    "error": "failed: {error}",
}
UNKNOWN_EVENT = "{kind} ({who})"
THE_RUN = "the run"

STATUS_WORDS = {
    "starting": "starting",
    "running": "running",
    "awaiting": "awaiting",
    "finished": "finished",  # how it went (approved, rejected...) needs its trail: ENDINGS
    "error": "❌ failed",
    "cancelled": "🚫 cancelled",
}
# A lock once closed; "approved" where the form offered a rejection, "answered" otherwise.
OUTCOME_WORDS = {
    "approved": "✅ Approved by {who} · {when}",
    "answered": "✅ Answered by {who} · {when}",
    "rejected": "🚫 Rejected by {who} · {when}",
    "auto-resolved": "✅ Approved automatically, with no answer by the deadline · {when}",
    "auto-rejected": "🚫 Rejected automatically, with no answer by the deadline · {when}",
    "expired": "⌛ Expired with no answer · {when}",
    "cancelled": "🚫 Cancelled with its run · {when}",
    "cancelled-by": "🚫 Cancelled with its run by {who} · {when}",
}
DECIDED_ALREADY = {
    "resolved": "Already answered by {who} ({when}).",
    "rejected": "Already rejected by {who} ({when}).",
    "approved-with-you": "Approved by {who}, your approval among them ({when}).",
    "auto-resolved": "Already approved automatically, with no answer by the deadline ({when}).",
    "auto-rejected": "Already rejected automatically, with no answer by the deadline ({when}).",
    "expired": "This expired with no answer ({when}).",
    "cancelled": "This run was cancelled ({when}).",
    "cancelled-by": "This run was cancelled by {who} ({when}).",
}
# How a run ended (bot.render.outcome.Ending): short, in the parent message...
ENDINGS = {
    "approved": "✅ approved by {who}",
    "approved-auto": "✅ approved automatically",
    "finished": "✅ finished",
    "rejected": "🚫 rejected by {who}",
    "rejected-auto": "🚫 rejected automatically",
    "expired": "⌛ expired: {lock} had no answer",
    "failed": "❌ failed",
    "cancelled": "🚫 cancelled by {who}",
    "cancelled-auto": "🚫 cancelled",
}
# ...and as the thread's last word, above the result.
ENDING_LINES = {
    "approved": "✅ *Approved* by {who} · {when}",
    "approved-auto": "✅ *Approved* automatically, with no answer by the deadline · {when}",
    "finished": "✅ *Finished* · {when}",
    "rejected": "🚫 *Rejected* by {who} · {when}",
    "rejected-auto": "🚫 *Rejected* automatically, with no answer by the deadline · {when}",
    "expired": "⌛ *Expired*: {lock} had no answer by the deadline · {when}",
    "failed": "❌ *Failed* · {when}",
    "cancelled": "🚫 *Cancelled* by {who} · {when}",
    "cancelled-auto": "🚫 *Cancelled* · {when}",
}
YES, NO = "Yes", "No"
HIDDEN = "••••••"  # a password field's answer
ANSWER_LABEL = "Answer"
RESULT_LABEL = "Result"
COMMENT_LABEL = "Comment"
REASON_LABEL = "Reason"
MORE_FIELDS = "…and {count} more: `/flow status` has them all."
UNKNOWN_TIME = "an unknown time"


def when(at: float | None) -> str:
    """A moment as each reader's own local time (Slack's date token), UTC for clients that
    cannot show it."""
    if at is None:
        return UNKNOWN_TIME
    return f"<!date^{int(at)}^{{date_short_pretty}} at {{time}}|{clock(at)}>"


def short(run_id: str) -> str:
    """The first 8 characters of a run's id: what people see and type (any unique prefix
    names a run). Escaped: a run's id may have been chosen by whoever started it."""
    return literal(run_id[:SHORT_ID])


API_ACTOR = "api:"  # an HTTP API token acting: ``api:<its name>``


def who(user: str | None) -> str:
    """A person as a mention; an API token (``api:ci``) as its name, shown literally."""
    return mention([user]) if user else "someone"


MENTIONED = 50  # people named in one list; the rest are counted (the audit names them all)
MORE_PEOPLE = " and {count} more"


def mention(people: list[str]) -> str:
    """Users as ``<@U…>``, user groups as ``<!subteam^S…>``; an API token (``api:ci``) by its
    name, and anything else not shaped like a person (a name some other surface recorded),
    literally. Past ``MENTIONED``, the rest are counted: a list cut at a text's limit would
    end in half a mention."""
    named = ", ".join(_mention(p) for p in people[:MENTIONED])
    rest = len(people) - MENTIONED
    return named + (MORE_PEOPLE.format(count=rest) if rest > 0 else "")


def _mention(person: str) -> str:
    if isinstance(person, str) and person.startswith(API_ACTOR):
        return literal(person.removeprefix(API_ACTOR))
    if not isinstance(person, str) or not _PERSON.fullmatch(person):
        return literal(str(person))
    return f"<!subteam^{person}>" if person.startswith("S") else f"<@{person}>"


def answerers(allowed: tuple[str, ...]) -> str:
    """``("U1", "S2", "channel")`` -> ``<@U1>, <!subteam^S2> or members of this channel``."""
    parts = ["members of this channel" if a == "channel" else mention([a]) for a in allowed]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def asked(allowed: tuple[str, ...]) -> str:
    """The people a lock names to answer it, as mentions (they are notified); past
    ``MENTIONED``, the rest counted."""
    people = [a for a in allowed if a != "channel"]
    if len(people) <= MENTIONED:
        return answerers(allowed)
    return mention(people) + (" or members of this channel" if "channel" in allowed else "")


def refusal(allowed: tuple[str, ...]) -> str:
    return FORBIDDEN.format(who=answerers(allowed)) if allowed else FOUR_EYES


def cannot_cancel(initiator: str | None, admins: tuple[str, ...]) -> str:
    if admins:
        return NOT_MANAGER.format(who=who(initiator), admins=answerers(admins))
    return NOT_INITIATOR.format(who=who(initiator))


def cannot_start(flow: str, problem: str, detail: str, error_id: str) -> str:
    safe = detail[:200].replace("`", "'").replace("&", "&amp;").replace("<", "&lt;")
    safe = safe.replace(">", "&gt;")
    text = CANNOT_START.get(problem, CANNOT_START["crashed"]).format(flow=flow, detail=safe)
    return text + NOTHING_STARTED.format(error_id=error_id)


def title(name: str) -> str:
    """``content_review`` -> ``Content review``: lock and flow names as people read them."""
    words = name.removeprefix("prompt.").replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else name
