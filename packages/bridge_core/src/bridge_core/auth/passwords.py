"""Password hashing with argon2id (the library's current recommended parameters)."""

import uuid
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["hash_password", "password_needs_rehash", "verify_decoy_password", "verify_password"]

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """The argon2id hash (PHC string, salt included) under which a password is stored."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; a malformed hash never matches."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


@cache
def _decoy_hash() -> str:
    return _hasher.hash(uuid.uuid4().hex)


def verify_decoy_password(password: str) -> bool:
    """Spend the time of a real check on an unknown user, so timing does not reveal it; False."""
    verify_password(_decoy_hash(), password)
    return False
