"""What a flow may return (or hand ``tracer.result``) to be shown formatted: kodosumi's
``response.Markdown``, ``HTML`` and ``Text``. Each holds one ``body``; Slack shows Markdown and
HTML as formatted text, and Text as preformatted text.

In kodosumi these are functions returning ``kodosumi.dtypes`` models; here they are the models
themselves, so ``isinstance(result, Markdown)`` works and ``Markdown(body=...)`` builds one too.
Arguments join as kodosumi joins them: one string as it is, one list or several arguments one
per line; one argument of another type is a ``ValueError``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


def _body(args: tuple[Any, ...]) -> str:
    if len(args) == 1:
        (only,) = args
        if isinstance(only, str):
            return only
        if isinstance(only, list):
            return "\n".join(str(a) for a in only)
        raise ValueError(f"a response takes a string or a list, not {type(only).__name__}")
    return "\n".join(str(a) for a in args)


class Body(BaseModel):
    """A formatted result: its ``kind`` says how ``body`` is shown."""

    model_config = ConfigDict(frozen=True)
    kind: ClassVar[str]
    body: str

    def __init__(self, *args: Any, body: str | None = None) -> None:
        super().__init__(body=body if body is not None else _body(args))


class Markdown(Body):
    kind: ClassVar[str] = "markdown"


class HTML(Body):
    kind: ClassVar[str] = "html"


class Text(Body):
    kind: ClassVar[str] = "text"


KINDS: dict[str, type[Body]] = {cls.kind: cls for cls in (Markdown, HTML, Text)}
CREW_OUTPUTS = ("CrewOutput", "TaskOutput")  # CrewAI's, whose ``raw`` kodosumi shows as Markdown
AGENT_FINISH = "AgentFinish"  # CrewAI's last step of an agent: its ``output`` shown as Markdown


def body_of(value: Any) -> Body | None:
    """How kodosumi's page shows a result, when it shows it formatted: a response body as it
    is; a CrewAI crew's or task's output (matched by its class's name, as kodosumi's formatter
    does) as the Markdown of its ``raw`` text. None for anything else."""
    if isinstance(value, Body):
        return value
    raw = getattr(value, "raw", None)
    if type(value).__name__ in CREW_OUTPUTS and isinstance(raw, str) and raw.strip():
        return Markdown(body=raw)
    return None


__all__ = ["AGENT_FINISH", "CREW_OUTPUTS", "HTML", "KINDS", "Body", "Markdown", "Text", "body_of"]
