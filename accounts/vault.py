"""Secrets at rest: Fernet (AES-128-CBC with an HMAC-SHA256 tag) under a key derived from SECRET_KEY.

Stripe keys, webhook secrets and connector credentials are stored only as these tokens. Rotating SECRET_KEY
makes them unreadable: the organisation enters them again (the sync, the webhook and the connector say so).
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# The derivation's label; kept as first written so that tokens stored before the module moved still decrypt.
INFO = b"finops pricing stripe credentials v1"


class SecretUnreadableError(Exception):
    """A stored secret could not be decrypted (SECRET_KEY changed, or the column was altered)."""


def _fernet() -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def secret_encrypt(clear: str) -> str:
    """The token to store for `clear`."""
    return _fernet().encrypt(clear.encode()).decode()


def secret_decrypt(token: str) -> str:
    """The clear text of a stored token; raises SecretUnreadableError."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadableError(
            "The stored secret cannot be read (the server's SECRET_KEY changed); enter it again."
        ) from exc
