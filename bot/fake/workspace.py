"""The fake Slack's workspace: a small in-memory model of what a person in Slack would now see
(the latest version of each message per channel, ephemerals, views, App Homes, channel members,
user groups, names) and the Web API methods that read and change it, as Slack answers them.
``FakeSlack`` serves these methods over HTTP and records every call."""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Mapping, Sequence

from bot.fake import files as fakefiles
from bot.fake import limits
from bot.fake import oauth as fakeoauth
from bot.fake import socket as fakesocket
from bot.fake.wire import CONTENT, Args, Refused, content_of, need

Handler = Callable[[Args], Args]

TEAM_ID, BOT_USER_ID, BOT_ID, APP_ID = "T0001", "UBOT", "BBOT", "A0001"
WORKSPACE_URL = "https://example.slack.test/"


class FakeWorkspace:
    """``members`` maps channel ids to member ids (``conversations.members``), ``usergroups``
    maps usergroup ids to user ids (``usergroups.users.list``), ``users`` maps user ids to real
    names (``users.info``; anyone else is named after their id). ``checked``: every message and
    view is held to Block Kit and Slack's limits, and refused as Slack refuses it (``bench``
    turns it off: that is Slack's work, which on the bench's machine would take CPU from the
    bot it measures; the tests keep it on)."""

    def __init__(
        self,
        *,
        members: Mapping[str, Sequence[str]] | None = None,
        usergroups: Mapping[str, Sequence[str]] | None = None,
        users: Mapping[str, str] | None = None,
        checked: bool = True,
    ) -> None:
        self.checked = checked
        self._members = {k: list(v) for k, v in (members or {}).items()}
        self._usergroups = {k: list(v) for k, v in (usergroups or {}).items()}
        self._names = dict(users or {})
        self._messages: dict[str, dict[str, Args]] = {}
        self._ephemerals: list[Args] = []
        self._views: dict[str, Args] = {}
        self._homes: dict[str, Args] = {}  # user -> their App Home, as last published
        self._last_ts = 0
        self._ids = itertools.count(1)
        self.base_url = ""  # where it is served
        self._files = fakefiles.FakeFiles(lambda: f"F{next(self._ids):08d}")
        self.oauth = fakeoauth.FakeOAuth(BOT_USER_ID, APP_ID)  # installs, their tokens

    def methods(self) -> dict[str, Handler]:
        """The Web API methods it answers, by name."""
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.push": self._views_open,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "conversations.members": self._conversations_members,
            "usergroups.users.list": self._usergroups_users_list,
            "reactions.add": self._reactions_add,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "apps.connections.open": self._apps_connections_open,
            "files.getUploadURLExternal": self._files.upload_url,
            "files.completeUploadExternal": self._files.complete,
            "files.info": self._files.info,
            "oauth.v2.access": self.oauth.access,
        }

    # what a person sees, and what they do

    def messages(self, channel: str) -> list[Args]:
        """Channel history, oldest first: top-level messages (replies are in ``thread``)."""
        found = self._messages.get(channel, {}).values()
        return [copy.deepcopy(m) for m in found if m.get("thread_ts", m["ts"]) == m["ts"]]

    def thread(self, channel: str, ts: str) -> list[Args]:
        """The parent message and its replies, oldest first."""
        found = self._messages.get(channel, {}).values()
        return [copy.deepcopy(m) for m in found if ts in (m["ts"], m.get("thread_ts"))]

    def say(self, channel: str, text: str, user: str = "UOTHER") -> str:
        """Someone else says ``text`` in ``channel`` (a busy channel); its ts."""
        ts = self._next_ts()
        self._messages.setdefault(channel, {})[ts] = {
            "type": "message", "user": user, "team": TEAM_ID, "ts": ts, "text": text,
        }  # fmt: skip
        return ts

    def delete(self, channel: str, ts: str) -> None:
        """A message deleted in Slack (by a person, or an admin): gone for everyone."""
        self._messages.get(channel, {}).pop(ts, None)

    def ephemerals(self, user: str | None = None) -> list[Args]:
        return [copy.deepcopy(e) for e in self._ephemerals if user in (None, e["user"])]

    @property
    def views(self) -> dict[str, Args]:
        """Views by id, latest version of each."""
        return copy.deepcopy(self._views)

    def home(self, user: str) -> Args | None:
        """The App Home ``user`` sees (the last ``views.publish`` for them), or None."""
        found = self._homes.get(user)
        return copy.deepcopy(found) if found is not None else None

    def files(self, channel: str | None = None) -> list[Args]:
        """Files shared (``content`` decoded as UTF-8), oldest first."""
        return self._files.shared(channel)

    def uploaded(self, user: str, name: str, content: bytes, mimetype: str = "text/plain") -> Args:
        """A file ``user`` uploaded through a file input: its description, for the
        ``file_input`` value in a ``view_submission`` (the bot fetches its bytes)."""
        return self._files.uploaded(user, name, content, mimetype)

    def show_ephemeral(self, channel: str, user: str, content: Args) -> Args:
        """Show ``user`` a note that is not a Web API call: how Slack shows the answer to a
        slash command (the HTTP response) only to the person who typed it."""
        self._check_message(content)
        note: Args = {"type": "message", "channel": channel, "user": user, "ts": self._next_ts()}
        note |= {"text": ""} | {k: content[k] for k in CONTENT if k in content}
        self._ephemerals.append(note)
        return copy.deepcopy(note)

    # the model

    def _check_message(self, content: Args) -> None:
        if self.checked:
            limits.check_message(content)

    def _check_view(self, view: Args) -> None:
        if self.checked:
            limits.check_view(view)

    def _next_ts(self) -> str:
        """Slack's ts: the time a message was made, in microseconds, never twice the same."""
        self._last_ts = max(self._last_ts + 1, int(time.time() * 1_000_000))
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def _find(self, channel: str, ts: str) -> Args:
        found = self._messages.get(channel, {}).get(ts)
        if found is None:
            raise Refused("message_not_found")
        return found

    def _view(self, args: Args, view_id: str, kept: Args) -> Args:
        submitted = args.get("view")
        if not isinstance(submitted, dict) or submitted.get("type") not in ("modal", "home"):
            raise Refused("invalid_arguments")
        self._check_view(submitted)
        view: Args = {"blocks": [], "private_metadata": "", "callback_id": "", "external_id": ""}
        view |= {"clear_on_close": False, "notify_on_close": False, "previous_view_id": None}
        view |= {"state": {"values": {}}, "root_view_id": view_id} | kept | submitted
        view |= {"id": view_id, "team_id": TEAM_ID, "app_id": APP_ID, "bot_id": BOT_ID}
        view["hash"] = f"1700000000.{next(self._ids):08d}"
        self._views[view_id] = view
        return view

    # the methods

    def _auth_test(self, args: Args) -> Args:
        return self._auth_test_as(None)

    def _auth_test_as(self, token: str | None) -> Args:
        """Whose token it is: an installed workspace's, or (any other) the test workspace's."""
        team = self.oauth.workspaces.get(self.oauth.team_of(token or "") or "")
        name, team_id = (team.name, team.team_id) if team else ("Test", TEAM_ID)
        found = {"url": WORKSPACE_URL, "team": name, "user": "lockstep", "team_id": team_id}
        found |= {"enterprise_id": team.enterprise_id} if team and team.enterprise_id else {}
        return found | {"user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}

    def _chat_post_message(self, args: Args) -> Args:
        channel = need(args, "channel", "channel_not_found")
        self._check_message(args)
        ts = self._next_ts()
        message: Args = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "app_id": APP_ID}
        message |= {"team": TEAM_ID, "ts": ts, "text": ""} | content_of(args)
        if args.get("thread_ts"):
            message["thread_ts"] = str(args["thread_ts"])
        self._messages.setdefault(channel, {})[ts] = message
        return {"channel": channel, "ts": ts, "message": message}

    def _chat_update(self, args: Args) -> Args:
        """Fields not given are kept (as on Slack); ``blocks: []`` removes the blocks."""
        channel = need(args, "channel", "channel_not_found")
        ts = need(args, "ts", "message_not_found")
        self._check_message(args)
        edited = {"edited": {"user": BOT_USER_ID, "ts": self._next_ts()}}
        message = self._find(channel, ts) | content_of(args) | edited
        if message.get("blocks") == []:
            del message["blocks"]
        self._messages[channel][ts] = message
        return {"channel": channel, "ts": ts, "text": message["text"], "message": message}

    def _chat_delete(self, args: Args) -> Args:
        """A bot deletes only its own messages (``cant_delete_message`` otherwise)."""
        channel = need(args, "channel", "channel_not_found")
        ts = need(args, "ts", "message_not_found")
        if self._find(channel, ts).get("bot_id") != BOT_ID:
            raise Refused("cant_delete_message")
        del self._messages[channel][ts]
        return {"channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, args: Args) -> Args:
        channel = need(args, "channel", "channel_not_found")
        user = need(args, "user", "user_not_in_channel")
        if user not in self._members.get(channel, [user]):  # known members only: Slack's rule
            raise Refused("user_not_in_channel")
        self._check_message(args)
        note: Args = {"type": "message", "channel": channel, "user": user, "ts": self._next_ts()}
        note |= {"text": ""} | content_of(args)
        if args.get("thread_ts"):
            note["thread_ts"] = str(args["thread_ts"])
        self._ephemerals.append(note)
        return {"message_ts": note["ts"]}

    def _chat_get_permalink(self, args: Args) -> Args:
        channel = need(args, "channel", "channel_not_found")
        message = self._find(channel, need(args, "message_ts", "message_not_found"))
        link = f"{WORKSPACE_URL}archives/{channel}/p{message['ts'].replace('.', '')}"
        if message.get("thread_ts", message["ts"]) != message["ts"]:
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _views_open(self, args: Args) -> Args:
        """``views.open`` and ``views.push``: a new view, with a fresh id."""
        need(args, "trigger_id", "invalid_arguments")
        return {"view": self._view(args, f"V{next(self._ids):08d}", {})}

    def _views_update(self, args: Args) -> Args:
        """By ``view_id`` or ``external_id``; a stale ``hash`` is refused, as on Slack."""
        view_id, ext = args.get("view_id"), args.get("external_id")
        if ext and not view_id:
            view_id = next((k for k, v in self._views.items() if v["external_id"] == ext), None)
        old = self._views.get(str(view_id))
        if old is None:
            raise Refused("not_found")
        if args.get("hash") and args["hash"] != old["hash"]:
            raise Refused("hash_conflict")
        kept = ("state", "root_view_id", "previous_view_id", "external_id")
        return {"view": self._view(args, old["id"], {k: old[k] for k in kept})}

    def _views_publish(self, args: Args) -> Args:
        """A person's App Home: one view per user, replaced whole by each publish."""
        user = need(args, "user_id", "invalid_arguments")
        if not user.startswith(("U", "W")):
            raise Refused("user_not_found")
        view = args.get("view")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise Refused("invalid_arguments")
        old = self._homes.get(user)
        self._homes[user] = found = self._view(
            args, old["id"] if old else f"V{next(self._ids):08d}", {}
        )
        return {"view": found}

    def _users_info(self, args: Args) -> Args:
        """Any ``U``/``W`` id is a person: a known one by name, anyone else after their id."""
        user_id = need(args, "user", "user_not_found")
        if not user_id.startswith(("U", "W")):
            raise Refused("user_not_found")
        real_name = self._names.get(user_id, f"User {user_id}")
        name = real_name.split()[0].lower() if user_id in self._names else user_id.lower()
        user: Args = {"id": user_id, "team_id": TEAM_ID, "name": name, "real_name": real_name}
        user |= {"deleted": False, "is_bot": user_id == BOT_USER_ID, "tz": "UTC", "tz_offset": 0}
        user["profile"] = {"display_name": name, "real_name": real_name, "team": TEAM_ID}
        return {"user": user}

    def join(self, channel: str, user: str) -> None:
        """``user`` is a member of ``channel`` from now on (Slack would send the bot a
        ``member_joined_channel`` event; tests that need it send one)."""
        self._members.setdefault(channel, []).append(user)

    def leave(self, channel: str, user: str) -> None:
        """``user`` is no longer a member of ``channel`` (as ``join``: tests send the event)."""
        self._members[channel] = [u for u in self._members.get(channel, []) if u != user]

    def _conversations_members(self, args: Args) -> Args:
        members = self._members.get(need(args, "channel", "channel_not_found"), [])
        return {"members": members, "response_metadata": {"next_cursor": ""}}

    def _usergroups_users_list(self, args: Args) -> Args:
        users = self._usergroups.get(need(args, "usergroup", "no_such_subteam"))
        if users is None:
            raise Refused("no_such_subteam")
        return {"users": users}

    def _reactions_add(self, args: Args) -> Args:
        channel = need(args, "channel", "channel_not_found")
        message = self._find(channel, need(args, "timestamp", "message_not_found"))
        name = need(args, "name", "invalid_name")
        reactions: list[Args] = message.setdefault("reactions", [])
        if any(r["name"] == name for r in reactions):  # only the bot reacts here
            raise Refused("already_reacted")
        reactions.append({"name": name, "users": [BOT_USER_ID], "count": 1})
        return {}

    def _apps_connections_open(self, args: Args) -> Args:
        """Socket Mode: where to connect (``socket_mode`` then speaks to the app)."""
        return {"url": "ws" + self.base_url.removeprefix("http") + fakesocket.PATH}

    def _listed(self, found: list[Args], args: Args) -> Args:
        """A page of messages as Slack lists them: metadata only with ``include_all_metadata``,
        ``limit`` per page and a cursor to the next."""
        if str(args.get("include_all_metadata", "")).lower() not in ("true", "1"):
            found = [{k: v for k, v in m.items() if k != "metadata"} for m in found]
        limit = max(1, min(int(args.get("limit") or 100), 1000))
        start = int(str(args.get("cursor") or "0").removeprefix("next_"))
        page, more = found[start : start + limit], start + limit < len(found)
        cursor = f"next_{start + limit}" if more else ""
        return {"messages": page, "has_more": more, "response_metadata": {"next_cursor": cursor}}

    def _conversations_history(self, args: Args) -> Args:
        """Top-level messages, newest first, at or after ``oldest``."""
        channel = need(args, "channel", "channel_not_found")
        oldest = float(args.get("oldest") or 0)
        found = [m for m in self.messages(channel) if float(m["ts"]) >= oldest]
        return self._listed(found[::-1], args)

    def _conversations_replies(self, args: Args) -> Args:
        """A thread: its parent, then its replies, oldest first."""
        channel = need(args, "channel", "channel_not_found")
        ts = need(args, "ts", "thread_not_found")
        self._find(channel, ts)
        return self._listed(self.thread(channel, ts), args)

    def _conversations_open(self, args: Args) -> Args:
        """A direct message with one person: ``D`` + their id."""
        users = need(args, "users", "users_list_not_supplied").split(",")
        if len(users) != 1 or not users[0].startswith(("U", "W")):
            raise Refused("user_not_found")
        return {"channel": {"id": "D" + users[0], "is_im": True, "user": users[0]}}
