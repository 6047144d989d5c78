"""Lockstep over HTTP: a JSON API under ``/api/v1`` (described by the OpenAPI document it
serves), kodosumi's lock and status routes, bearer tokens with scopes, and a server-sent event
stream of each run's events. Every action goes through the engine's front door with the token
as the actor (``api:<name>``).

Modules: ``models`` (what crosses the wire), ``views`` (records as the API shows them),
``auth`` (tokens, scopes, the principal), ``http`` (authentication, bodies, refusals),
``service`` (flows, runs, locks), ``stream`` (the event stream), ``kodosumi`` (its routes),
``openapi`` (the document), ``routes`` (the table that mounts them and makes the document).
"""

from bot.api.auth import Scopes, TokenDirectory, new_token
from bot.api.routes import mount
from bot.api.stream import Feed

__all__ = ["Feed", "Scopes", "TokenDirectory", "mount", "new_token"]
