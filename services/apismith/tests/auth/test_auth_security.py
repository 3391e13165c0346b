"""Pure functions: password hashing and token decoding (claim cases in token_claims_cases.json)."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from pydantic import SecretStr

from apismith.auth.security import (
    decode_token,
    hash_password,
    issue_access_token,
    issue_service_token,
    password_needs_rehash,
    verify_password,
)
from apismith.settings import Settings
from bridge_core.errors import Unauthorized

CASES = json.loads((Path(__file__).parent / "token_claims_cases.json").read_text())
SETTINGS = Settings(
    environment="test",
    secret_key="unit-test-secret-key-of-32-bytes-or-more",
    encryption_key="unit-test-encryption-key",
    access_token_minutes=5,
)


def test_password_hash_is_salted_argon2id_and_verifies():
    first, second = hash_password("hunter2-hunter2"), hash_password("hunter2-hunter2")

    assert first.startswith("$argon2id$")
    assert first != second
    assert verify_password(first, "hunter2-hunter2")
    assert not verify_password(first, "hunter2-hunter3")
    assert not verify_password("not-a-hash", "hunter2-hunter2")
    assert not password_needs_rehash(first)


def _token(case_claims):
    now = datetime.now(UTC)
    claims = {
        "sub": str(uuid.uuid4()),
        "name": "alice",
        "role": "reader",
        "typ": "access",
        "iat": now + timedelta(seconds=case_claims.pop("iat_offset_s", 0)),
        "exp": now + timedelta(minutes=5),
        "jti": str(uuid.uuid4()),
    }
    claims.update(case_claims)
    claims = {key: value for key, value in claims.items() if value is not None}
    return jwt.encode(claims, SETTINGS.secret_key.get_secret_value(), algorithm="HS256")


@pytest.mark.parametrize("case", CASES, ids=[case["case"] for case in CASES])
def test_decode_accepts_only_tokens_this_service_issues(case):
    token = _token(dict(case["claims"]))
    if case["valid"]:
        assert decode_token(token, settings=SETTINGS).name == "alice"
    else:
        with pytest.raises(Unauthorized, match=r"^invalid token$"):
            decode_token(token, settings=SETTINGS)


def test_issued_tokens_round_trip():
    user_uid, token_uid = uuid.uuid4(), uuid.uuid4()

    access = decode_token(
        issue_access_token(settings=SETTINGS, user_uid=user_uid, name="bob", role="admin"),
        settings=SETTINGS,
    )
    service = decode_token(
        issue_service_token(settings=SETTINGS, token_uid=token_uid, name="sync", role="reader"),
        settings=SETTINGS,
    )

    assert (access.subject, access.role, access.typ) == (user_uid, "admin", "access")
    assert access.expires_at - access.issued_at == timedelta(minutes=5)
    assert (service.subject, service.jti, service.typ) == (token_uid, str(token_uid), "service")
    assert service.expires_at is None


def test_a_changed_secret_key_invalidates_every_token():
    token = issue_access_token(settings=SETTINGS, user_uid=uuid.uuid4(), name="bob", role="admin")
    rotated = SETTINGS.model_copy(
        update={"secret_key": SecretStr("another-secret-key-of-32-bytes-or-more")}
    )

    with pytest.raises(Unauthorized, match=r"^invalid token$"):
        decode_token(token, settings=rotated)
