"""``lockstep``: the command line. ``start``, ``status``, ``answer`` and ``cancel`` talk to a
running bot (``LOCKSTEP_URL``, ``LOCKSTEP_TOKEN``); ``token`` and ``webhook`` work on its
database (``DATABASE_URL``). Exit statuses: 0 done (a waited-on run finished or was approved),
1 rejected or failed (or expired, or cancelled), 2 timed out, 3 an error (refused, unreachable,
a bad setting or argument)."""

from bot.cli.main import main

__all__ = ["main"]
