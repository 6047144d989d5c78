"""SQLModel tables. They stay inside ``store/``: what leaves the store is ``store.models``.

Times are UTC epoch seconds (floats): portable across SQLite and Postgres and cheap to compare.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    func,
)
from sqlmodel import Field, SQLModel


class ExecutionRow(SQLModel, table=True):
    __tablename__ = "executions"
    __table_args__ = (
        Index("ix_executions_status_heartbeat", "status", "heartbeat_at"),
        Index("ix_executions_flow_created", "flow", "created_at"),  # the API's run listings
        Index("ix_executions_created", "created_at", "id"),
        Index("ix_executions_workspace", "team_id", "enterprise_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=64)
    flow: str = Field(max_length=200)
    runner: str = Field(max_length=500)
    inputs: Any = Field(default=None, sa_column=Column(JSON))
    status: str = Field(max_length=16)
    initiator: str | None = Field(default=None, max_length=64, index=True)
    context: Any = Field(default=None, sa_column=Column(JSON))
    result: Any = Field(default=None, sa_column=Column(JSON))
    error: str | None = None
    created_at: float
    updated_at: float
    owner: str | None = Field(default=None, max_length=100)
    heartbeat_at: float | None = None
    wakeups: int = 0
    progress: int = 0
    # the workspace (Slack team, and enterprise on Grid); "": a single-token bot's one
    team_id: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})
    enterprise_id: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})


class CallRow(SQLModel, table=True):
    """One recorded call of a flow: a lock, a step or a durable sleep, by position (``seq``)."""

    __tablename__ = "calls"
    __table_args__ = (UniqueConstraint("execution_id", "seq", name="uq_calls_execution_seq"),)

    id: str = Field(primary_key=True, max_length=64)
    execution_id: str = Field(foreign_key="executions.id", max_length=64)
    seq: int
    kind: str = Field(max_length=8)
    name: str = Field(max_length=200)
    status: str = Field(max_length=16)
    data: Any = Field(default=None, sa_column=Column(JSON))
    form: Any = Field(default=None, sa_column=Column(JSON))
    result: Any = Field(default=None, sa_column=Column(JSON))
    actor: str | None = Field(default=None, max_length=64)
    comment: str | None = None
    deadline: float | None = None
    created_at: float
    decided_at: float | None = None
    policy: Any = Field(default=None, sa_column=Column(JSON))


class EventRow(SQLModel, table=True):
    """The audit trail. Rows are only ever inserted."""

    __tablename__ = "events"

    id: int | None = Field(default=None, primary_key=True)
    execution_id: str = Field(foreign_key="executions.id", max_length=64, index=True)
    at: float
    kind: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=64)
    call_id: str | None = Field(default=None, max_length=64)
    detail: Any = Field(default=None, sa_column=Column(JSON))


class TimerRow(SQLModel, table=True):
    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_status_due", "status", "due_at"),  # the sweep: what is due
        Index("ix_timers_call_status", "call_id", "status"),  # a lock's pending timers
        Index("ix_timers_execution_status", "execution_id", "status"),  # a run's
    )

    id: int | None = Field(default=None, primary_key=True)
    execution_id: str = Field(foreign_key="executions.id", max_length=64)
    call_id: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=16)
    due_at: float
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    fired_at: float | None = None
    payload: Any = Field(default=None, sa_column=Column(JSON))


class OutboxRow(SQLModel, table=True):
    """What people should see, as the store knows it: one row per message Lockstep owns (the
    run's parent message, each lock's message, each post and direct message). A state change
    bumps ``version`` in its own transaction; the deliverer shows the row's newest version and
    records it as ``shown``, so a lost update is repeated and a late one never goes back."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending_due", "pending", "due_at"),  # the deliverer: what is due
        # a run's rows, and those of them due: a claim of the run's rows reads only them
        Index("ix_outbox_run_due", "execution_id", "pending", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)  # also in the message's metadata
    # None: a row about no run (a person's App Home)
    execution_id: str | None = Field(default=None, foreign_key="executions.id", max_length=64)
    call_id: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=16)  # run | lock | post | direct | webhook | home
    payload: Any = Field(default=None, sa_column=Column(JSON))
    version: int = 1
    shown: int = 0  # the version last delivered; 0: never
    pending: bool = True  # version > shown
    location: Any = Field(default=None, sa_column=Column(JSON))  # where it is shown
    due_at: float
    attempts: int = 0  # since it was last shown: a retry looks for an earlier attempt's post
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: float | None = None
    error: str | None = None  # the last failure, for operators
    created_at: float
    updated_at: float


class ApiTokenRow(SQLModel, table=True):
    """A bearer token of the HTTP API. Only the SHA-256 of its secret is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_name", "name"),)

    id: str = Field(primary_key=True, max_length=32)  # the token's public part
    name: str = Field(max_length=40)  # one live token per name; revoked ones are kept
    secret_hash: str = Field(max_length=64)
    scopes: Any = Field(default=None, sa_column=Column(JSON))
    created_at: float
    revoked_at: float | None = None
    team_id: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})
    enterprise_id: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})


class WebhookRow(SQLModel, table=True):
    """A webhook subscription: which events go to which URL, signed with which secret."""

    __tablename__ = "webhooks"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=200)  # needed to sign, so kept as it is
    events: Any = Field(default=None, sa_column=Column(JSON))
    created_at: float
    removed_at: float | None = None


class HeldRow(SQLModel, table=True):
    """A person's request stored the moment it arrived, before it was acked, until it has been
    handled: one a process died handling is handled again by another (or after a restart) once
    ``until`` has passed. Handled, its row is ``done`` (its payload gone) and kept until
    ``until``, so the same request sent again changes nothing; then it is deleted."""

    __tablename__ = "held"

    key: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)
    payload: Any = Field(default=None, sa_column=Column(JSON))
    owner: str = Field(max_length=100)  # the process handling it
    until: float  # when another may take it over
    attempts: int = 1
    created_at: float
    done: bool = False


executions = ExecutionRow.__table__  # type: ignore[attr-defined]
calls = CallRow.__table__  # type: ignore[attr-defined]
events = EventRow.__table__  # type: ignore[attr-defined]
timers = TimerRow.__table__  # type: ignore[attr-defined]
outbox = OutboxRow.__table__  # type: ignore[attr-defined]
api_tokens = ApiTokenRow.__table__  # type: ignore[attr-defined]
webhooks = WebhookRow.__table__  # type: ignore[attr-defined]
held = HeldRow.__table__  # type: ignore[attr-defined]


# Installations to many workspaces (OAuth): the tables of slack_sdk's SQLAlchemy installation
# and OAuth state stores, column for column (a test holds them to slack_sdk's own), in
# Lockstep's database: made by migration 0007, used by those stores (``bot.workspaces``).
def _installed(*columns: Column[Any]) -> list[Column[Any]]:
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("client_id", String(32), nullable=False),
        Column("app_id", String(32), nullable=False),
        Column("enterprise_id", String(32)),
        Column("enterprise_name", String(200)),
        *columns[:1],
        Column("team_id", String(32)),
        Column("team_name", String(200)),
        Column("bot_token", String(200)),
        Column("bot_id", String(32)),
        Column("bot_user_id", String(32)),
        Column("bot_scopes", String(1000)),
        Column("bot_refresh_token", String(200)),
        Column("bot_token_expires_at", DateTime),
        *columns[1:],
        Column("is_enterprise_install", Boolean, default=False, nullable=False),
    ]


def _installed_at() -> Column[Any]:
    return Column("installed_at", DateTime, nullable=False, default=func.now())


slack_installations = Table(
    "slack_installations",
    SQLModel.metadata,
    *_installed(
        Column("enterprise_url", String(200)),
        Column("user_id", String(32), nullable=False),
        Column("user_token", String(200)),
        Column("user_scopes", String(1000)),
        Column("user_refresh_token", String(200)),
        Column("user_token_expires_at", DateTime),
        Column("incoming_webhook_url", String(200)),
        Column("incoming_webhook_channel", String(200)),
        Column("incoming_webhook_channel_id", String(200)),
        Column("incoming_webhook_configuration_url", String(200)),
    ),
    Column("token_type", String(32)),
    _installed_at(),
    Index(
        "slack_installations_idx",
        "client_id",
        "enterprise_id",
        "team_id",
        "user_id",
        "installed_at",
    ),
)
slack_bots = Table(
    "slack_bots",
    SQLModel.metadata,
    *_installed(),
    _installed_at(),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)
slack_oauth_states = Table(
    "slack_oauth_states",
    SQLModel.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
