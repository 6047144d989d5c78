"""Configuration: a missing or malformed setting stops start-up with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import load_flows
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
    assert settings.default_timeout == 10800
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
        ({"SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN Value error, must be a bot token"),
        ({**GOOD, "PORT": "eighty"}, "PORT Input should be a valid integer"),
        ({**GOOD, "PORT": "70000"}, "PORT Input should be less than or equal to 65535"),
        ({**GOOD, "SLACK_API_URL": "slack.com"}, "SLACK_API_URL Value error, must be an http(s)"),
        (
            {**GOOD, "SLACK_APP_TOKEN": "xoxb-2"},
            "SLACK_APP_TOKEN Value error, must be an app-level",
        ),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is required in HTTP mode"),
        ({**GOOD, "LOCKSTEP_FLOWS": " , "}, "LOCKSTEP_FLOWS Value error, must name at least one"),
        (
            {**GOOD, "LOCKSTEP_DEFAULT_TIMEOUT": "0"},
            "LOCKSTEP_DEFAULT_TIMEOUT Input should be greater",
        ),
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


def test_unloadable_flows_are_named() -> None:
    with pytest.raises(SettingsError, match=r"cannot import no\.such\.module"):
        load_flows(["no.such.module"])
    with pytest.raises(SettingsError, match=r"bot\.render\.messages defines no FlowApp"):
        load_flows(["bot.render.messages"])


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
