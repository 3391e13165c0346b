"""The environment a test runs a ``syncflow`` command in: the test app's database and
secrets, the test environment, no log file."""

from syncflow.settings import Settings


def command_env(settings: Settings, **more: str) -> dict[str, str]:
    """``SYNCFLOW_*`` variables for a command on ``settings``' database; ``more`` adds
    variables (``SYNCFLOW_DESTINATION_SECRETS=...``)."""
    assert settings.database_url is not None
    return {
        "SYNCFLOW_DATABASE_URL": settings.database_url,
        "SYNCFLOW_ENVIRONMENT": "test",
        "SYNCFLOW_SECRET_KEY": settings.secret_key.get_secret_value(),
        "SYNCFLOW_ENCRYPTION_KEY": settings.encryption_key.get_secret_value(),
        "SYNCFLOW_DATA_DIR": str(settings.data_dir),
        "SYNCFLOW_LOG_FILE": "false",
        **more,
    }
