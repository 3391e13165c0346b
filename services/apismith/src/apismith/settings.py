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
    # counts and limits: zero or less would mean streams without rows or pages without end
    default_page_size: int = Field(default=100, ge=1)
    max_page_size: int = Field(default=10_000, ge=1)
    default_statement_timeout_ms: int = Field(default=30_000, ge=100)
    default_max_rows: int = Field(default=10_000_000, ge=2)
    stream_chunk_rows: int = Field(default=5_000, ge=1)
    executor_threads: int = Field(default=8, ge=1)
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="server processes sharing the port (one core each; see docs/performance.md)",
    )

    def secret_fields(self) -> dict[str, SecretStr]:
        return {"secret_key": self.secret_key, "encryption_key": self.encryption_key}
