"""Configuration: a missing or malformed setting stops start-up with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.loading import load_flows
from bot.settings import SettingsError, load

ROOT = Path(__file__).resolve().parent.parent
GOOD = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "LOCKSTEP_")) or name in {"DATABASE_URL", "PORT"}:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env file


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    settings = load()
    assert settings.mode == "http"
    assert settings.port == 3000 and settings.database_url is None
    assert settings.host is None  # HTTP mode listens on every address
    assert settings.default_timeout == 10800
    assert (settings.sweep_seconds, settings.takeover, settings.slack_timeout) == (5, 8, 10)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.flows == [
        "flows.examples.review",
        "flows.examples.deploy",
        "flows.examples.expense",
    ]
    assert "s3cret" not in repr(settings) and "xoxb-1" not in repr(settings)
    assert sorted(load_flows(settings.flows).entries) == ["deploy", "expense", "review"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SLACK_SIGNING_SECRET": "s3cret"}, "SLACK_BOT_TOKEN is missing: set it too"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN is missing: set it too"),
        ({"SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN must be a bot token"),
        ({**GOOD, "PORT": "eighty"}, "PORT Input should be a valid integer"),
        ({**GOOD, "PORT": "70000"}, "PORT Input should be less than or equal to 65535"),
        ({**GOOD, "SLACK_API_URL": "slack.com"}, "SLACK_API_URL must be an http(s)"),
        (
            {**GOOD, "SLACK_APP_TOKEN": "xoxb-2"},
            "SLACK_APP_TOKEN must be an app-level",
        ),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is required in HTTP mode"),
        # set to nothing is unset, not a secret no request could be signed with
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": ""},
            "SLACK_SIGNING_SECRET is required in HTTP mode",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "  "},
            "SLACK_SIGNING_SECRET is required in HTTP mode",
        ),
        ({**GOOD, "LOCKSTEP_FLOWS": " , "}, "LOCKSTEP_FLOWS must name at least one"),
        (
            {**GOOD, "LOCKSTEP_DEFAULT_TIMEOUT": "0"},
            "LOCKSTEP_DEFAULT_TIMEOUT Input should be greater",
        ),
        # a sweep's interval or a lock's deadline no date can hold
        (
            {**GOOD, "LOCKSTEP_SWEEP_SECONDS": "inf"},
            "LOCKSTEP_SWEEP_SECONDS Input should be a finite",
        ),
        ({**GOOD, "LOCKSTEP_SWEEP_SECONDS": "1e12"}, "LOCKSTEP_SWEEP_SECONDS Input should be less"),
        (
            {**GOOD, "LOCKSTEP_DEFAULT_TIMEOUT": "inf"},
            "LOCKSTEP_DEFAULT_TIMEOUT Input should be a finite",
        ),
        (
            {**GOOD, "LOCKSTEP_DEFAULT_TIMEOUT": "1e12"},
            "LOCKSTEP_DEFAULT_TIMEOUT Input should be less",
        ),
        # placeholders, as .env.example has them or as people write them
        ({**GOOD, "SLACK_BOT_TOKEN": "xoxb-..."}, "SLACK_BOT_TOKEN is a placeholder: set it to"),
        ({**GOOD, "SLACK_BOT_TOKEN": "xoxb-<your-token>"}, "SLACK_BOT_TOKEN is a placeholder"),
        ({**GOOD, "SLACK_SIGNING_SECRET": "..."}, "SLACK_SIGNING_SECRET is a placeholder"),
        ({**GOOD, "SLACK_SIGNING_SECRET": "changeme"}, "SLACK_SIGNING_SECRET is a placeholder"),
        ({**GOOD, "SLACK_APP_TOKEN": "xapp-…"}, "SLACK_APP_TOKEN is a placeholder"),
        # an explicit mode needs its credentials, and none that contradicts it
        ({"LOCKSTEP_MODE": "http"}, "SLACK_BOT_TOKEN is missing: LOCKSTEP_MODE=http needs it"),
        (
            {"LOCKSTEP_MODE": "HTTP", "SLACK_BOT_TOKEN": "xoxb-1"},
            "SLACK_SIGNING_SECRET is missing: LOCKSTEP_MODE=http needs it",
        ),
        ({**GOOD, "LOCKSTEP_MODE": "socket"}, "SLACK_APP_TOKEN is missing: LOCKSTEP_MODE=socket"),
        (
            {**GOOD, "LOCKSTEP_MODE": "http", "SLACK_APP_TOKEN": "xapp-1"},
            "SLACK_APP_TOKEN is set, but LOCKSTEP_MODE=http",
        ),
        ({"LOCKSTEP_MODE": "production"}, "LOCKSTEP_MODE Input should be 'http', 'socket'"),
    ],
)
def test_bad_settings_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_the_mode_is_decided_by_which_credentials_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load().mode == "local"  # none: a page stands in for Slack
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert load().mode == "socket"
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    monkeypatch.delenv("SLACK_APP_TOKEN")
    assert load().mode == "http"
    monkeypatch.setenv("PORT", "0")
    assert load().port == 0  # any free port


def test_a_slack_credential_set_to_nothing_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a ``.env`` or a compose file leaves them (``SLACK_APP_TOKEN=``)."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID",
                 "SLACK_CLIENT_SECRET"):  # fmt: skip
        monkeypatch.setenv(name, "")
    assert load().mode == "local"
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", " s3cret\n")  # pasted with what was around it
    settings = load()
    assert settings.mode == "http" and settings.slack_app_token is None
    assert settings.slack_signing_secret is not None
    assert settings.slack_signing_secret.get_secret_value() == "s3cret"


def test_an_explicit_mode_wins_over_what_the_credentials_say(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCKSTEP_MODE", "local")
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    assert load().mode == "local"
    monkeypatch.setenv("LOCKSTEP_MODE", " Socket ")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert load().mode == "socket"
    monkeypatch.setenv("LOCKSTEP_MODE", "")
    assert load().mode == "socket"  # blank is unset: the credentials say


def test_an_unedited_copy_of_env_example_does_not_start(tmp_path: Path) -> None:
    """The README says to copy ``.env.example`` to ``.env``: as it stands, it must be refused,
    not start HTTP mode with placeholder tokens."""
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    with pytest.raises(SettingsError, match=r"^SLACK_BOT_TOKEN is a placeholder"):
        load()


def test_unloadable_flows_are_named() -> None:
    with pytest.raises(SettingsError, match=r"cannot import no\.such\.module"):
        load_flows(["no.such.module"])
    with pytest.raises(SettingsError, match=r"bot\.render\.messages defines no FlowApp"):
        load_flows(["bot.render.messages"])


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"DATABASE_URL": "mysql://me:pw@db/x"}, "DATABASE_URL must be sqlite or postgresql"),
        (
            {"DATABASE_URL": "postgresql://me:hunter2@127.0.0.1:1/lockstep"},
            "DATABASE_URL: cannot open postgresql://me:***@127.0.0.1:1/lockstep: ",
        ),
        (
            {"DATABASE_URL": "sqlite:////no/such/dir/lockstep.db", **GOOD, "LOCKSTEP_MODE": "http"},
            "DATABASE_URL: cannot open sqlite:////no/such/dir/lockstep.db: unable to open",
        ),
        ({"LOCKSTEP_MODE": "http"}, "SLACK_BOT_TOKEN is missing: LOCKSTEP_MODE=http needs it"),
        ({"LOCKSTEP_SWEEP_SECONDS": "inf"}, "LOCKSTEP_SWEEP_SECONDS Input should be a finite"),
    ],
)
def test_a_database_or_a_mode_that_cannot_start_is_one_line(
    tmp_path: Path, env: dict[str, str], line: str
) -> None:
    """``python -m bot`` itself, in local and HTTP mode: one line naming the setting, exit 2,
    no traceback, no password."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LOCKSTEP_"))}
    clean |= {"PORT": "0", "LOCKSTEP_HOST": "127.0.0.1", "PYTHONPATH": str(ROOT), **env}
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("lockstep: " + line)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


def test_the_bot_refuses_to_start_with_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LOCKSTEP_"))}
    env |= {"SLACK_BOT_TOKEN": "xoxb-secret-token", "PORT": "nope", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "lockstep: PORT Input should be a valid integer, unable to parse string as an integer"
    )
    assert "xoxb-secret-token" not in done.stderr + done.stdout
