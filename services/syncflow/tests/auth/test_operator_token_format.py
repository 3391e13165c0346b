"""The self-verifying operator token format and the admin token comparison (pure)."""

import uuid

import pytest

from syncflow.auth.security import (
    is_admin_token,
    issue_operator_token,
    verified_token_uid,
)

KEY = "a-secret-key"
UID = uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057")


def test_an_issued_token_verifies_to_its_uid():
    token = issue_operator_token(secret_key=KEY, uid=UID)
    assert token.startswith(f"sf_{UID.hex}.")
    assert verified_token_uid(secret_key=KEY, token=token) == UID


def test_two_tokens_for_one_uid_differ():
    assert issue_operator_token(secret_key=KEY, uid=UID) != issue_operator_token(
        secret_key=KEY, uid=UID
    )


def test_another_key_does_not_verify():
    token = issue_operator_token(secret_key=KEY, uid=UID)
    assert verified_token_uid(secret_key="other-key", token=token) is None


def _swap_uid(token: str) -> str:
    other = uuid.UUID(int=UID.int + 1).hex
    return token.replace(UID.hex, other)


def _swap_secret(token: str) -> str:
    prefix, secret, mac = token.split(".")
    return ".".join([prefix, ("B" if secret[0] == "A" else "A") + secret[1:], mac])


@pytest.mark.parametrize("tamper", [_swap_uid, _swap_secret, lambda t: t + "x", lambda t: t[:-1]])
def test_a_tampered_token_does_not_verify(tamper):
    token = issue_operator_token(secret_key=KEY, uid=UID)
    assert verified_token_uid(secret_key=KEY, token=tamper(token)) is None


@pytest.mark.parametrize(
    "garbage", ["", "sf_", "Bearer x", "sf_zz.yy.xx", "x" * 5000, "sf_" + "0" * 32 + ".a.b"]
)
def test_garbage_does_not_verify(garbage):
    assert verified_token_uid(secret_key=KEY, token=garbage) is None


@pytest.mark.parametrize(
    ("configured", "given", "expected"),
    [
        ("admin-secret", "admin-secret", True),
        ("admin-secret", "admin-secreT", False),
        ("admin-secret", "admin-secret ", False),
        (None, "admin-secret", False),
        ("", "", False),
    ],
)
def test_admin_token_comparison(configured, given, expected):
    assert is_admin_token(admin_token=configured, token=given) is expected
