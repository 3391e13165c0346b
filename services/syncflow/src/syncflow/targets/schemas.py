"""What creating or migrating a target table did, as reported to the operator."""

from pydantic import BaseModel, Field


class TargetTableChange(BaseModel):
    target_schema: str
    target_table: str
    table_created: bool = Field(description="the table did not exist and was created")
    added_columns: list[str] = Field(description="columns added for new fields or parent refs")
    retained_columns: list[str] = Field(
        description="columns no longer mapped; kept with their data, never dropped"
    )
