"""Configuration from the environment (pydantic-settings). A bad setting stops start-up with one
line naming it; secrets are never printed."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from flows.errors import LockstepError
from flows.policy import DEFAULT_TIMEOUT, MAX_SECONDS

LOCAL_DATABASE = "sqlite:///lockstep-local.db"  # local mode's runs never mix with a workspace's
EXAMPLE_FLOWS = ["flows.examples.review", "flows.examples.deploy", "flows.examples.expense"]
# the bot scopes an install through OAuth asks for: those of slack-app-manifest.yml
SCOPES = [
    "commands", "chat:write", "chat:write.public", "users:read", "usergroups:read",
    "channels:read", "groups:read", "channels:history", "groups:history", "im:history",
    "im:write", "files:write",
]  # fmt: skip
DAY = 86400.0
Mode = Literal["http", "socket", "local"]
LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    # installs to many workspaces through OAuth, instead of one SLACK_BOT_TOKEN
    slack_client_id: str | None = Field(default=None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(default=None, alias="SLACK_CLIENT_SECRET")
    slack_scopes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(SCOPES), alias="SLACK_SCOPES"
    )
    slack_redirect_uri: str | None = Field(default=None, alias="SLACK_REDIRECT_URI")
    explicit_mode: Mode | None = Field(default=None, alias="LOCKSTEP_MODE")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    flows: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(EXAMPLE_FLOWS), alias="LOCKSTEP_FLOWS"
    )
    port: int = Field(default=3000, alias="PORT", ge=0, le=65535)  # 0: any free port
    host: str | None = Field(default=None, alias="LOCKSTEP_HOST", min_length=1)  # None: all
    # a sweep's interval and a lock's deadline are finite, and not so far off that the moment
    # they make is past what a date holds: a bad one stops start-up with one line
    sweep_seconds: float = Field(
        default=5.0, alias="LOCKSTEP_SWEEP_SECONDS", gt=0, le=DAY, allow_inf_nan=False
    )
    slack_timeout: float = Field(default=10.0, alias="LOCKSTEP_SLACK_TIMEOUT", gt=0, le=60)
    takeover: float = Field(default=8.0, alias="LOCKSTEP_TAKEOVER_SECONDS", ge=1, le=600)
    default_timeout: float = Field(
        default=DEFAULT_TIMEOUT, alias="LOCKSTEP_DEFAULT_TIMEOUT", gt=0, le=MAX_SECONDS,
        allow_inf_nan=False,
    )  # fmt: skip
    log_format: LogFormat = Field(default="text", alias="LOG_FORMAT")
    log_level: LogLevel = Field(default="INFO", alias="LOG_LEVEL")
    metrics: bool = Field(default=False, alias="LOCKSTEP_METRICS")  # off | on
    metrics_token: SecretStr | None = Field(default=None, alias="LOCKSTEP_METRICS_TOKEN")
    ready_lag: float = Field(default=60.0, alias="LOCKSTEP_READY_LAG", gt=0)
    shutdown_seconds: float = Field(default=10.0, alias="LOCKSTEP_SHUTDOWN_SECONDS", ge=0)

    @field_validator(
        "slack_bot_token", "slack_signing_secret", "slack_app_token", "slack_client_id",
        "slack_client_secret", mode="before",
    )  # fmt: skip
    @classmethod
    def _blank(cls, value: object) -> object:
        """A Slack credential set to nothing (``SLACK_SIGNING_SECRET=``) is unset, not an
        empty secret no request could be signed with; spaces pasted around one go."""
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return _real(value, "the Bot User OAuth Token (xoxb-…) of your Slack app")

    @field_validator("slack_client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9]+\.[0-9]+", value.strip()):
            raise ValueError("must be your Slack app's Client ID (digits.digits)")
        return value.strip() if value else value

    @field_validator("slack_client_secret")
    @classmethod
    def _client_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return _real(value, "your Slack app's Client Secret (Basic Information)")

    @field_validator("slack_scopes", mode="before")
    @classmethod
    def _scopes(cls, value: object) -> object:
        if isinstance(value, str):
            scopes = [s.strip() for s in value.split(",") if s.strip()]
            if not scopes or not all(re.fullmatch(r"[a-z.:_]+", s) for s in scopes):
                raise ValueError("must be comma-separated Slack scopes (chat:write,commands)")
            return scopes
        return value

    @field_validator("slack_redirect_uri")
    @classmethod
    def _redirect(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be the https:// URL of /slack/oauth_redirect on this bot")
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _signing_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return _real(value, "your Slack app's Signing Secret (Basic Information)")

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return _real(value, "an app-level token (xapp-…) with connections:write")

    @field_validator("explicit_mode", "log_format", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        return value.strip().lower() or None if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("metrics", mode="before")
    @classmethod
    def _switch(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("off", "on"):
            return value.strip().lower() == "on"
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return _real(value, "a long random string Prometheus sends as its bearer token")

    def secrets(self) -> list[str]:
        """Every secret value set, so that logs can be kept clear of them."""
        found = [self.slack_bot_token, self.slack_signing_secret, self.slack_app_token]
        found += [self.metrics_token, self.slack_client_secret]
        values = [s.get_secret_value() for s in found if s is not None]
        if self.database_url and "@" in self.database_url:
            password = _password(self.database_url)
            if password:
                values.append(password)
        return values

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("flows", mode="before")
    @classmethod
    def _flows(cls, value: object) -> object:
        if isinstance(value, str):
            modules = [m.strip() for m in value.split(",") if m.strip()]
            if not modules:
                raise ValueError("must name at least one module")
            return modules
        return value

    @property
    def oauth(self) -> bool:
        """Installed to many workspaces through OAuth (``SLACK_CLIENT_ID``)."""
        return self.slack_client_id is not None

    @property
    def authorize_url(self) -> str:
        """Slack's page where a person installs the app: beside the Web API's base URL."""
        return self.slack_api_url.removesuffix("api/") + "oauth/v2/authorize"

    @property
    def store_url(self) -> str | None:
        """The database: ``DATABASE_URL``; unset, local mode's own SQLite file, or (None)
        ``./lockstep.db``."""
        if self.database_url:
            return self.database_url
        return LOCAL_DATABASE if self.mode == "local" else None

    @property
    def mode(self) -> Mode:
        """``LOCKSTEP_MODE`` when set (a deploy should set it: then a missing token is an
        error, never a quiet start in local mode). Unset: ``local`` without any Slack
        credentials, ``socket`` with ``SLACK_APP_TOKEN``, else ``http``."""
        if self.explicit_mode is not None:
            return self.explicit_mode
        if self.slack_app_token is not None:
            return "socket"
        if self.slack_bot_token is None and self.slack_signing_secret is None and not self.oauth:
            return "local"
        return "http"

    def check(self) -> None:
        """The settings the mode needs are there, and none contradicts it."""
        mode, explicit = self.mode, self.explicit_mode is not None
        if mode == "local":
            return
        if self.oauth:
            self._check_oauth(mode)
            return
        why = f"LOCKSTEP_MODE={mode}" if explicit else None
        if self.slack_bot_token is None:
            raise SettingsError(
                f"SLACK_BOT_TOKEN is missing: {why} needs it"
                if why
                else "SLACK_BOT_TOKEN is missing: set it too, or unset SLACK_SIGNING_SECRET and "
                "SLACK_APP_TOKEN for local mode"
            )
        if mode == "http" and self.slack_signing_secret is None:
            raise SettingsError(
                f"SLACK_SIGNING_SECRET is missing: {why} needs it"
                if why
                else "SLACK_SIGNING_SECRET is required in HTTP mode (no SLACK_APP_TOKEN): set it "
                "too, or unset SLACK_BOT_TOKEN for local mode"
            )
        if mode == "http" and self.slack_app_token is not None:
            raise SettingsError(
                "SLACK_APP_TOKEN is set, but LOCKSTEP_MODE=http: unset one (the app token is "
                "for Socket Mode)"
            )
        if mode == "socket" and self.slack_app_token is None:
            raise SettingsError("SLACK_APP_TOKEN is missing: LOCKSTEP_MODE=socket needs it")

    def _check_oauth(self, mode: Mode) -> None:
        """Installs through OAuth: HTTP mode (Slack redirects people to the bot), the client
        secret and the signing secret; no single bot token besides."""
        if mode != "http":
            raise SettingsError(
                f"SLACK_CLIENT_ID is set, but LOCKSTEP_MODE={mode}: installs through OAuth need "
                "LOCKSTEP_MODE=http (Slack sends people back to /slack/oauth_redirect)"
            )
        if self.slack_client_secret is None:
            raise SettingsError("SLACK_CLIENT_SECRET is missing: SLACK_CLIENT_ID needs it")
        if self.slack_signing_secret is None:
            raise SettingsError("SLACK_SIGNING_SECRET is missing: HTTP mode needs it")
        if self.slack_bot_token is not None:
            raise SettingsError(
                "SLACK_BOT_TOKEN is set, and so is SLACK_CLIENT_ID: unset one (with OAuth, each "
                "workspace's token comes from its install)"
            )


_PLACEHOLDER = re.compile(
    r"\.\.\.|…|[<>{}]|\b(your|example|placeholder|changeme|change[-_ ]me|replace|todo|"
    r"fixme|dummy|secret[-_]here|token[-_]here)\b|^(x+|xoxb-x+|xapp-x+)$",
    re.IGNORECASE,
)


def _real(value: SecretStr | None, what: str) -> SecretStr | None:
    """Refuse the obvious placeholders (``xoxb-...`` from ``.env.example``, ``<your token>``):
    an unedited copy must not start the bot with them."""
    if value is not None and _PLACEHOLDER.search(value.get_secret_value()):
        raise ValueError(f"is a placeholder: set it to {what}, or remove it for local mode")
    return value


class SettingsError(LockstepError, ValueError):
    """A setting is missing or malformed; the message names it, in one line."""


def _password(url: str) -> str | None:
    try:
        found = urlsplit(url).password
    except ValueError:
        return None
    return unquote(found) if found else None


class _StoreOnly(BaseSettings):
    """``DATABASE_URL`` alone, read from the environment and ``.env`` as ``Settings`` reads it."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str | None = Field(default=None, alias="DATABASE_URL")


def database_url() -> str | None:
    """``DATABASE_URL`` alone, whatever the other settings are (a command that needs only the
    database must not be stopped by a setting the bot would refuse)."""
    return _StoreOnly().database_url or None


def load_store() -> Settings:
    """The settings ``python -m bot migrate`` needs, which is only ``DATABASE_URL``: when
    another setting is one the bot would refuse (a placeholder token in ``.env``), the rest
    are left at their defaults."""
    try:
        return load(check=False)
    except SettingsError:
        return Settings.model_construct(database_url=database_url())


def load(*, check: bool = True) -> Settings:
    """Settings from the environment, or ``SettingsError`` with one line naming the setting.
    ``check=False``: whatever the mode needs is not asked for (``python -m bot migrate``
    needs only the database)."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        problem = "is missing" if first["type"] == "missing" else first["msg"]
        problem = problem.removeprefix("Value error, ")
        raise SettingsError(f"{name} {problem}") from None
    if check:
        settings.check()
    return settings
