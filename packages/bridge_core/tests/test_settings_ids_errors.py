"""Settings refuse default secrets outside development; ids are UUID v7."""

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from bridge_core.ids import new_id
from bridge_core.settings import ServiceSettings


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")


def test_development_accepts_default_secret():
    assert DemoSettings(environment="development").environment == "development"


def test_production_refuses_default_secret(monkeypatch):
    monkeypatch.setenv("DEMO_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="default secrets: secret_key"):
        DemoSettings()


def test_production_accepts_real_secret(monkeypatch):
    monkeypatch.setenv("DEMO_ENVIRONMENT", "production")
    monkeypatch.setenv("DEMO_SECRET_KEY", "a-real-secret")
    assert DemoSettings().secret_key.get_secret_value() == "a-real-secret"


def test_ids_are_time_ordered_uuid7():
    ids = [new_id() for _ in range(1000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == 1000


def test_cli_settings_errors_name_the_variable_and_never_echo_secrets(monkeypatch, capsys):
    import typer

    from bridge_core.cli import load_settings

    monkeypatch.setenv("DEMO_ENVIRONMENT", "production")
    monkeypatch.setenv("DEMO_PORT", "not-a-port-hunter2")
    with pytest.raises(typer.Exit) as info:
        load_settings(DemoSettings, service="demo")
    assert info.value.exit_code == 2
    err = capsys.readouterr().err
    assert "demo: invalid settings: DEMO_PORT" in err
    assert "hunter2" not in err
