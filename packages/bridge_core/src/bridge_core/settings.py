"""Settings base shared by both services (pydantic-settings, reads ``.env``).

Each service subclasses :class:`ServiceSettings` with its own ``env_prefix``
(``APISMITH_`` / ``SYNCFLOW_``). Outside ``development`` the services refuse to
start while a secret still has its default value.
"""

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me-in-production-development-only"

Environment = Literal["development", "test", "staging", "production"]


class ServiceSettings(BaseSettings):
    """Settings every service has."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Environment = "development"
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the service's own database; unset starts an embedded server",
    )
    data_dir: Path = Field(default=Path(".data"), description="embedded PostgreSQL and logs")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = False
    log_file: bool = True
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    max_request_bytes: int = Field(
        default=1_048_576, ge=1024, description="largest request body accepted (413 above)"
    )
    admin_username: str | None = Field(
        default=None, description="first admin, created at start when no user exists"
    )
    admin_password: SecretStr | None = None
    # zero or less would issue tokens that are dead on arrival
    access_token_minutes: int = Field(default=30, ge=1)
    refresh_token_days: int = Field(default=7, ge=1)

    def secret_fields(self) -> dict[str, SecretStr]:
        """The secrets that must not keep their defaults outside development."""
        return {"secret_key": self.secret_key}

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Self:
        if self.environment == "development":
            return self
        defaults = [
            name
            for name, value in self.secret_fields().items()
            if value.get_secret_value() == DEFAULT_SECRET
        ]
        if defaults:
            names = ", ".join(defaults)
            raise ValueError(
                f"refusing to start in {self.environment!r} with default secrets: {names}; "
                "set them in the environment or .env"
            )
        return self
