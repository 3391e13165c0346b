"""The stand-in's settings: a default password only in development, usable secrets and
prefix."""

import pydantic
import pytest

from schedulehub_standin.settings import Settings


def test_the_default_password_is_refused_outside_development():
    assert Settings(environment="development").username == "syncflow"
    with pytest.raises(pydantic.ValidationError, match="default secrets: password"):
        Settings(environment="test")
    assert Settings(environment="test", password="chosen").password.get_secret_value() == "chosen"


def test_webhook_secrets_must_be_whsec_base64():
    with pytest.raises(pydantic.ValidationError, match="base64"):
        Settings(webhook_secrets=["whsec_***"])


def test_the_api_prefix_is_a_plain_path():
    assert Settings(api_prefix="/api/v1/").api_prefix == "/api/v1"
    assert Settings(api_prefix="").api_prefix == ""
    with pytest.raises(pydantic.ValidationError, match="must start with '/'"):
        Settings(api_prefix="api")
