"""A service's settings for its tests: the test environment, a database, a data dir,
secrets long enough to sign tokens, and no log file."""

from pathlib import Path
from typing import Any

from bridge_core.settings import ServiceSettings

__all__ = ["TEST_ENCRYPTION_KEY", "TEST_SECRET_KEY", "service_test_settings"]

TEST_SECRET_KEY = "test-secret-key-with-enough-length-for-hs256"
TEST_ENCRYPTION_KEY = "test-encryption-key"


def service_test_settings[S: ServiceSettings](
    settings_class: type[S], *, database_url: str, data_dir: Path, **more: Any
) -> S:
    """``settings_class`` (a service's ``Settings``) for a test; ``more`` adds or
    overrides settings (an admin token, the log level, other secrets)."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "data_dir": data_dir,
        "secret_key": TEST_SECRET_KEY,
        "encryption_key": TEST_ENCRYPTION_KEY,
        "log_file": False,
    }
    return settings_class(**(values | more))
