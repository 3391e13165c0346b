"""Secrets round-trip through encryption; a wrong key is a clear error."""

import pytest

from bridge_core.crypto import DecryptionError, SecretBox, hash_token


def test_round_trip_and_ciphertext_hides_plaintext():
    box = SecretBox("k1")
    sealed = box.encrypt("mysql://root:pw@erp/db")
    assert b"pw@erp" not in sealed
    assert box.decrypt(sealed) == "mysql://root:pw@erp/db"


def test_wrong_key_is_a_clear_error():
    sealed = SecretBox("k1").encrypt("secret")
    with pytest.raises(DecryptionError, match="configured encryption key"):
        SecretBox("k2").decrypt(sealed)


def test_tokens_are_stored_as_stable_sha256_hashes():
    assert len(hash_token("sf_abc")) == 64
    assert hash_token("sf_abc") == hash_token("sf_abc")
    assert hash_token("sf_abc") != hash_token("sf_abd")
