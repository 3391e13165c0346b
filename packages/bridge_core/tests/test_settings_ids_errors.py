"""Settings refuse default secrets outside development; ids are UUID v7."""

import time
import uuid

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from bridge_core.ids import BLOCK_LIMIT, new_id, new_id_block
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


def _block(count):
    data = new_id_block(count)
    assert len(data) == 16 * count
    return [uuid.UUID(bytes=data[i : i + 16]) for i in range(0, len(data), 16)]


def test_id_blocks_are_ascending_uuid7_across_blocks():
    before = time.time_ns() // 1_000_000
    ids = [*_block(5000), *_block(3), *_block(0), *_block(70_000)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert [i.bytes for i in ids] == sorted(i.bytes for i in ids)
    stamp = int.from_bytes(ids[0].bytes[:6], "big")
    assert before <= stamp <= time.time_ns() // 1_000_000 + 1


def test_a_block_that_would_overflow_the_counter_moves_to_the_next_millisecond():
    first = _block(BLOCK_LIMIT - 10)
    second = _block(20)
    assert second[0] > first[-1]
    with pytest.raises(ValueError, match="up to"):
        new_id_block(BLOCK_LIMIT + 1)


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
