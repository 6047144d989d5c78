"""The listeners: each Slack surface becomes one typed event (``bot.inbound``) and takes one
path to the engine's front door; its typed outcome becomes what the person sees.

Every handler acks first (Slack's 3 s), except where the answer must ride on the ack (modal
errors); Bolt answers when the listener returns, and the rest runs as a tracked task after it
(``bot.listening``), views first while the trigger is fresh. Nothing here decides: the engine does,
with compare-and-set, so double clicks and Slack's retries are harmless. Every call names the
workspace the request comes from (``Workspaces.of``): the engine shows, answers and cancels
nothing of another.
"""

from __future__ import annotations

import re

from slack_bolt.async_app import AsyncApp

from bot.clicks import LockListeners
from bot.render import blocks, surfaces
from bot.slash import SlashCommands


class Handlers(SlashCommands, LockListeners):
    """Every listener, registered with Bolt by ``register``."""

    def register(self, app: AsyncApp) -> None:
        app.command("/flow")(self.command)
        app.view(blocks.ENTRY_CALLBACK)(self.entry_submitted)
        app.view(blocks.LOCK_CALLBACK)(self.lock_modal_submitted)
        app.action(blocks.ACTION_SUBMIT)(self.submit_clicked)
        app.action(blocks.ACTION_CANCEL)(self.cancel_clicked)
        app.action(blocks.ACTION_OPEN)(self.open_clicked)
        app.action(re.compile(rf"^{blocks.ACTION_PRESS}\.\d+$"))(self.action_clicked)
        app.action(surfaces.SNOOZE_ACTION)(self.snooze_clicked)
