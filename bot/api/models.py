"""What crosses the HTTP API, as pydantic models: the handlers build their answers from these
and read their requests with them, and ``bot.api.openapi`` makes the OpenAPI document from the
same classes, so the document cannot drift from what is served."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["starting", "running", "awaiting", "finished", "error", "cancelled"]
Outcome = Literal["approved", "finished", "rejected", "expired", "failed", "cancelled"]
LockStatus = Literal["open", "resolved", "rejected", "expired", "cancelled"]
WebhookType = Literal[
    "lock.opened", "lock.decided", "lock.expired", "run.finished", "run.failed", "run.cancelled"
]
Element = dict[str, Any]  # one kodosumi form element: {"type": "text", "name": ..., ...}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Problem(_Model):
    """Any refusal: ``error`` is a stable code, ``message`` says what to do about it."""

    error: Literal[
        "unauthorized",
        "forbidden",
        "not_found",
        "conflict",
        "bad_request",
        "failed",
        "unavailable",
        "too_many",
    ]
    message: str


class Invalid(_Model):
    """422: the inputs were refused. ``errors`` maps each field's name to its messages, and
    ``_global_`` to those about the whole form (kodosumi's error format)."""

    error: Literal["invalid"] = "invalid"
    message: str
    errors: dict[str, list[str]]


class Flow(_Model):
    name: str
    summary: str
    description: str | None = None
    elements: list[Element] = Field(
        description="The entry form as kodosumi element JSON; empty: the flow takes no inputs"
    )


class FlowList(_Model):
    flows: list[Flow]


class StartRequest(_Model):
    flow: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    channel: str | None = Field(
        default=None,
        pattern=r"^[CGD][A-Z0-9]{1,40}$",
        description="The Slack channel id to run in (its thread holds the forms); none: the "
        "run is not shown in Slack and is answered through the API only",
    )


class LockSummary(_Model):
    id: str
    name: str
    status: LockStatus
    opened_at: str
    deadline: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    comment: str | None = None
    approvers: list[str] = Field(
        default_factory=list, description="Who may decide (Slack ids, groups, 'channel')"
    )
    quorum: int = 1
    exclude_initiator: bool = False


class Run(_Model):
    id: str
    flow: str
    status: Status
    outcome: Outcome | None = Field(
        default=None, description="How an ended run ended: approved, rejected, failed..."
    )
    initiator: str | None = None
    channel: str | None = None
    created_at: str
    updated_at: str
    result: Any = None
    error: str | None = None
    locks: list[LockSummary] = Field(description="The locks it waits on now")
    slack_url: str | None = Field(
        default=None, description="A link to the run's message in Slack, once it is posted"
    )


class RunPage(_Model):
    runs: list[Run]
    next: str | None = Field(default=None, description="Pass as ?after= for the next page")


class Lock(_Model):
    id: str
    run_id: str
    flow: str
    name: str
    status: LockStatus
    elements: list[Element] = Field(description="The lock's form as kodosumi element JSON")
    data: Any = Field(default=None, description="What the flow passed to tracer.lock(data=)")
    deadline: str | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    comment: str | None = None
    result: Any = None
    approvers: list[str] = Field(default_factory=list)
    quorum: int = 1
    exclude_initiator: bool = False
    approved_by: list[str] = Field(default_factory=list, description="A quorum's approvals")


class AnswerRequest(_Model):
    inputs: dict[str, Any] = Field(default_factory=dict)
    decision: Literal["submit", "reject"] = Field(
        default="submit", description="submit: the form's Submit; reject: its Cancel"
    )
    comment: str | None = Field(default=None, description="Kept with a rejection")


class Answered(_Model):
    outcome: Literal["accepted", "rejected", "counted"] = Field(
        description="accepted or rejected: this answer decided the lock; counted: a quorum "
        "lock took it and waits for more"
    )
    lock: LockSummary
    approved_by: list[str] = Field(default_factory=list)


class CancelRequest(_Model):
    reason: str | None = None


class AuditEvent(_Model):
    at: str | None
    kind: str
    actor: str | None
    lock: str | None
    detail: Any = None


class Audit(_Model):
    """The run's whole audit trail, as ``/flow audit`` sends it (``lockstep.audit/1``)."""

    model_config = ConfigDict(frozen=True, extra="allow")
    format: str
    execution: dict[str, Any]
    locks: list[dict[str, Any]]
    events: list[AuditEvent]


class RunEvent(_Model):
    """One event of a run's audit trail, as the event stream sends it (``id`` is the SSE id)."""

    id: int
    kind: str
    at: str
    actor: str | None = None
    lock_id: str | None = None
    lock: str | None = Field(default=None, description="The lock's name")
    detail: Any = None
    status: Status = Field(description="The run's status when this was sent")


class WebhookData(_Model):
    run: Run
    lock: LockSummary | None = None


class WebhookEvent(_Model):
    """A webhook's body (Standard Webhooks): signed in the ``webhook-signature`` header, named by
    ``webhook-id`` (the same on every retry: de-duplicate by it). ``timestamp``: when the event
    happened; ``data``: the run and the lock as they are when it is sent (a retry may show them
    further on)."""

    type: WebhookType
    timestamp: str
    data: WebhookData


# kodosumi's routes, in kodosumi's own shapes ------------------------------------------------


class KodosumiLockAnswer(BaseModel):
    """``POST /lock/{fid}/{lid}``: the lease's value (``result``) or the errors, and the form."""

    model_config = ConfigDict(frozen=True)
    result: Any = None
    errors: dict[str, list[str]] | None = None
    elements: list[Element]


class KodosumiLaunchAnswer(BaseModel):
    """``POST /-/{path}``: the new run's id (``result``) or the errors, and the entry form."""

    model_config = ConfigDict(frozen=True)
    result: str | None = None
    errors: dict[str, list[str]] | None = None
    elements: list[Element]


class KodosumiNotFound(BaseModel):
    model_config = ConfigDict(frozen=True)
    status_code: int
    detail: str


class KodosumiStatus(BaseModel):
    """``GET /outputs/status/{fid}``: kodosumi's 16 keys, in its order."""

    model_config = ConfigDict(frozen=True)
    status: Literal["starting", "running", "awaiting", "finished", "error"]
    timestamp: float
    final: str | None
    fid: str
    summary: str | None
    description: str | None
    tags: list[str]
    deprecated: bool | None
    author: str | None
    organization: str | None
    version: str | None
    kodosumi_version: str | None
    app_url: str | None
    entry_point: str | None
    username: str | None
    locks: list[str]
