"""Configuration from the environment (pydantic-settings). A bad setting stops start-up with one
line naming it; secrets are never printed."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from flows.errors import LockstepError
from flows.policy import DEFAULT_TIMEOUT

EXAMPLE_FLOWS = ["flows.examples.review", "flows.examples.deploy", "flows.examples.expense"]
Mode = Literal["http", "socket", "local"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    flows: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(EXAMPLE_FLOWS), alias="LOCKSTEP_FLOWS"
    )
    port: int = Field(default=3000, alias="PORT", ge=0, le=65535)  # 0: any free port
    sweep_seconds: float = Field(default=5.0, alias="LOCKSTEP_SWEEP_SECONDS", gt=0)
    default_timeout: float = Field(default=DEFAULT_TIMEOUT, alias="LOCKSTEP_DEFAULT_TIMEOUT", gt=0)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

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
    def mode(self) -> Mode:
        """``local`` without any Slack credentials: a stand-in for Slack on a local page.
        ``socket`` with ``SLACK_APP_TOKEN``, else ``http``."""
        if self.slack_app_token is not None:
            return "socket"
        if self.slack_bot_token is None and self.slack_signing_secret is None:
            return "local"
        return "http"

    def check(self) -> None:
        if self.mode == "local":
            return
        if self.slack_bot_token is None:
            raise SettingsError(
                "SLACK_BOT_TOKEN is missing: set it too, or unset SLACK_SIGNING_SECRET and "
                "SLACK_APP_TOKEN for local mode"
            )
        if self.mode == "http" and self.slack_signing_secret is None:
            raise SettingsError(
                "SLACK_SIGNING_SECRET is required in HTTP mode (no SLACK_APP_TOKEN): set it too, "
                "or unset SLACK_BOT_TOKEN for local mode"
            )


class SettingsError(LockstepError, ValueError):
    """A setting is missing or malformed; the message names it, in one line."""


def load() -> Settings:
    """Settings from the environment, or ``SettingsError`` with one line naming the setting."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        problem = "is missing" if first["type"] == "missing" else first["msg"]
        raise SettingsError(f"{name} {problem}") from None
    settings.check()
    return settings
