"""A fake Slack that speaks the real protocol, for the tests and for local mode: the Web API
(``slack``), its wire format (``wire``), file uploads (``files``), Socket Mode (``socket``),
and requests signed the way Slack signs them (``signing``)."""
