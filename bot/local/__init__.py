"""Local mode: Lockstep without a Slack workspace.

``python -m bot`` with no Slack credentials serves a page on loopback that stands in for a Slack
channel. The bot is the real one: the page's clicks become correctly signed Slack payloads sent
to its ``/slack/events``, and its Web API calls are answered by ``bot.fakeslack.FakeSlack``, the
same fake the tests use, whose change feed keeps the page live.
"""
