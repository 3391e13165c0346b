"""Stand-in settings (environment prefix ``SCHEDULEHUB_``, also read from ``.env``)."""

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from bridge_core.ids import BLOCK_LIMIT
from bridge_core.settings import DEFAULT_SECRET, ServiceSettings
from schedulehub_standin.signatures import secret_key


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULEHUB_", env_file=".env", extra="ignore")

    port: int = 8009
    database_name: str = Field(
        default="schedulehub", description="database name on the embedded server"
    )
    max_request_bytes: int = Field(
        default=64 * 1_048_576, ge=1024, description="largest request body accepted (413 above)"
    )
    api_prefix: str = Field(default="/api/v1", description="where ScheduleHub's API is served")
    username: str = Field(default="syncflow", description="the one user that may sign in")
    password: SecretStr = Field(default=SecretStr(DEFAULT_SECRET))
    access_token_seconds: float = Field(
        default=900.0, gt=0, description="lifetime of an access token (short forces refreshes)"
    )
    refresh_token_seconds: float = Field(default=86_400.0, gt=0)
    max_batch_records: int = Field(
        default=1000,
        ge=1,
        # an insert takes the uids of its records from one block of ids (new_id_block)
        le=BLOCK_LIMIT,
        description="most records (uids, keys) one batch call may carry",
    )
    webhook_secrets: list[str] = Field(
        default_factory=list,
        description="'whsec_' + base64 secrets a webhook signature is checked against",
    )
    webhook_tolerance_seconds: int = Field(
        default=300, ge=1, description="how far webhook-timestamp may be from now"
    )
    fault_seed: int = Field(default=0, description="seed of the fault dice")

    @field_validator("api_prefix")
    @classmethod
    def _plain_prefix(cls, value: str) -> str:
        prefix = value.strip().rstrip("/")
        if prefix and not prefix.startswith("/"):
            raise ValueError("api_prefix must start with '/', e.g. /api/v1")
        return prefix

    @field_validator("webhook_secrets")
    @classmethod
    def _base64_secrets(cls, value: list[str]) -> list[str]:
        for secret in value:
            secret_key(secret)
        return value

    def secret_fields(self) -> dict[str, SecretStr]:
        # the stand-in signs nothing with secret_key: its tokens are random and kept in memory
        return {"password": self.password}
