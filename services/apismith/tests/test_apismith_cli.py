"""The ``apismith`` command refuses bad settings with a short message that holds no secret."""

import pytest
from typer.testing import CliRunner

from apismith.cli import app

SECRET_KEY = "a-real-secret-key-that-must-not-be-printed"
ADMIN_PASSWORD = "an-admin-password-that-must-not-be-printed"


@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["tokens", "create", "--name", "x"]])
def test_default_secrets_outside_development_stop_every_command_without_echoing_secrets(
    command, tmp_path
):
    env = {
        "APISMITH_ENVIRONMENT": "production",
        "APISMITH_SECRET_KEY": SECRET_KEY,
        "APISMITH_ENCRYPTION_KEY": None,  # left at its default
        "APISMITH_ADMIN_USERNAME": "admin",
        "APISMITH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "APISMITH_DATABASE_URL": None,
        "APISMITH_DATA_DIR": str(tmp_path),
    }

    result = CliRunner().invoke(app, command, env=env)

    assert result.exit_code == 2
    assert result.output.strip() == (
        "apismith: invalid settings: Value error, refusing to start in 'production' with "
        "default secrets: encryption_key; set them in the environment or .env"
    )
    assert SECRET_KEY not in result.output
    assert ADMIN_PASSWORD not in result.output
    assert not (tmp_path / "postgres").exists(), "nothing was started"


def test_a_malformed_setting_is_named_without_its_value(tmp_path):
    env = {"APISMITH_PORT": "not-a-port-s3cret", "APISMITH_DATA_DIR": str(tmp_path)}

    result = CliRunner().invoke(app, ["serve"], env=env)

    assert result.exit_code == 2
    assert "apismith: invalid settings: APISMITH_PORT: Input should be a valid integer" in (
        result.output
    )
    assert "s3cret" not in result.output


@pytest.mark.parametrize(
    "setting",
    ["APISMITH_STREAM_CHUNK_ROWS", "APISMITH_DEFAULT_PAGE_SIZE", "APISMITH_EXECUTOR_THREADS"],
)
def test_a_limit_of_zero_is_refused_at_start(setting, tmp_path):
    result = CliRunner().invoke(
        app, ["serve"], env={setting: "0", "APISMITH_DATA_DIR": str(tmp_path)}
    )

    assert result.exit_code == 2
    name = setting.removeprefix("APISMITH_")
    assert f"apismith: invalid settings: APISMITH_{name}: Input should be greater than" in (
        result.output
    )
