"""Secrets are masked in text and never reach a log sink."""

from loguru import logger

from bridge_core.logging import configure_logging
from bridge_core.secrets import mask_secrets, mask_url


def test_mask_url_hides_only_the_password():
    assert mask_url("postgresql://erp:Pa55@db:5432/ifs") == "postgresql://erp:***@db:5432/ifs"
    assert mask_url("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"


def test_mask_secrets_handles_tokens_and_pairs():
    text = "Authorization: Bearer eyJabc.def password=hunter2 token: 'xyz'"
    masked = mask_secrets(text)
    assert "eyJabc" not in masked
    assert "hunter2" not in masked
    assert "xyz" not in masked


def test_log_file_never_holds_secrets(tmp_path):
    configure_logging(service="test", level="DEBUG", log_dir=tmp_path)
    logger.info("connecting to mysql://root:TopSecret@erp/db with token=abc123")
    logger.complete()
    logger.remove()
    content = (tmp_path / "test.log").read_text()
    assert "TopSecret" not in content
    assert "abc123" not in content
    assert "mysql://root:***@erp/db" in content


def test_context_fields_appear_in_log_lines(tmp_path):
    configure_logging(service="syncflow", level="DEBUG", log_dir=tmp_path)
    with logger.contextualize(batch="b-1", entity="parts", stage="load"):
        logger.info("loaded")
    logger.complete()
    logger.remove()
    line = (tmp_path / "syncflow.log").read_text()
    assert "syncflow" in line
    assert "batch=b-1 entity=parts stage=load" in line


async def test_validation_errors_never_echo_the_input():
    import httpx
    from fastapi import FastAPI
    from pydantic import BaseModel

    from bridge_core.http.errors import install_error_handlers

    class Body(BaseModel):
        username: str
        password: str
        age: int

    app = FastAPI()
    install_error_handlers(app)

    @app.post("/x")
    async def x(body: Body) -> dict[str, str]:
        return {}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.post("/x", json={"password": "hunter2-secret", "age": "old"})
    assert response.status_code == 422
    assert "hunter2-secret" not in response.text
    locs = [p["loc"] for p in response.json()["detail"]]
    assert ["body", "username"] in locs
    assert ["body", "age"] in locs
