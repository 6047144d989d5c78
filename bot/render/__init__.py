"""Rendering, pure: data in, Slack text and Block Kit out. The pipeline reads in order: text
(``mrkdwn``: Markdown and HTML as mrkdwn, escaping, cutting) → form inputs as input blocks
(``inputs``) → forms as messages and modals (``blocks``) → answers and results as labelled
fields (``answers``) → what the bot posts around them (``surfaces``: the parent message, lock
messages before and after their decision, the run's ending, as ``outcome`` reads it) and run
histories (``history``). ``state`` is the inverse: Slack's ``state.values`` back as raw inputs.
Every sentence people read is in ``messages``."""
