"""APISmith settings (environment prefix ``APISMITH_``, also read from ``.env``)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from bridge_core.settings import DEFAULT_SECRET, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="APISMITH_", env_file=".env", extra="ignore")

    port: int = 8007
    database_name: str = Field(
        default="apismith", description="database name on the embedded server"
    )
    encryption_key: SecretStr = Field(
        default=SecretStr(DEFAULT_SECRET),
        description="key that encrypts ERP connection credentials at rest",
    )
    admin_username: str | None = None
    admin_password: SecretStr | None = None
    access_token_minutes: int = 30
    refresh_token_days: int = 7
    default_page_size: int = 100
    max_page_size: int = 10_000
    default_statement_timeout_ms: int = 30_000
    default_max_rows: int = 10_000_000
    stream_chunk_rows: int = 5_000
    executor_threads: int = 8

    def secret_fields(self) -> dict[str, SecretStr]:
        return {"secret_key": self.secret_key, "encryption_key": self.encryption_key}
