"""The operations settings: logs, metrics, readiness and shutdown; a bad one is one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.settings import SettingsError, load

GOOD = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "LOCKSTEP_", "LOG_")) or name in {"DATABASE_URL", "PORT"}:
            monkeypatch.delenv(name)
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no .env file


def test_defaults() -> None:
    settings = load()
    assert (settings.log_format, settings.log_level) == ("text", "INFO")
    assert (settings.metrics, settings.metrics_token) == (False, None)
    assert (settings.ready_lag, settings.shutdown_seconds) == (60, 10)


def test_values_as_people_write_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"LOG_FORMAT": "JSON", "LOG_LEVEL": "debug", "LOCKSTEP_METRICS": "On",
                        "LOCKSTEP_METRICS_TOKEN": "k" * 16}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    settings = load()
    assert (settings.log_format, settings.log_level, settings.metrics) == ("json", "DEBUG", True)
    monkeypatch.setenv("LOCKSTEP_METRICS", "off")
    assert load().metrics is False


def test_every_secret_is_known_to_the_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://me:p%40ss@db.example/lockstep")
    monkeypatch.setenv("LOCKSTEP_METRICS_TOKEN", "scrape-" + "k" * 16)
    assert sorted(load().secrets()) == sorted(["xoxb-1", "s3cret", "p@ss", "scrape-" + "k" * 16])


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LOG_FORMAT", "xml", "LOG_FORMAT Input should be 'text' or 'json'"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'"),
        ("LOCKSTEP_METRICS", "maybe", "LOCKSTEP_METRICS Input should be a valid boolean"),
        ("LOCKSTEP_METRICS_TOKEN", "short", "LOCKSTEP_METRICS_TOKEN must be at least 16 char"),
        ("LOCKSTEP_METRICS_TOKEN", "<your token here>", "LOCKSTEP_METRICS_TOKEN is a placeholder"),
        ("LOCKSTEP_READY_LAG", "0", "LOCKSTEP_READY_LAG Input should be greater than 0"),
        ("LOCKSTEP_SHUTDOWN_SECONDS", "-1", "LOCKSTEP_SHUTDOWN_SECONDS Input should be greater"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load()
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
