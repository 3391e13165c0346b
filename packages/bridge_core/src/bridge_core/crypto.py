"""Encryption of secrets at rest (ERP credentials, source tokens) and token hashing.

Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from the service's
``encryption_key`` setting, so any string can serve as the configured key.
Tokens given to clients are stored only as SHA-256 hashes.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from bridge_core.errors import BridgeError


class DecryptionError(BridgeError):
    """Stored ciphertext cannot be read with the configured key (was the key changed?)."""

    status_code = 500


class SecretBox:
    """Encrypts and decrypts text with a key derived from ``key``."""

    def __init__(self, key: str) -> None:
        digest = hashlib.sha256(("erp-bridge:" + key).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken as exc:
            raise DecryptionError(
                "stored secret cannot be decrypted with the configured encryption key"
            ) from exc


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()
