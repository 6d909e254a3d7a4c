"""The seed's service-account JWT for notifications: RS256, signed with a Google service-account key.

Claims as the seed sent them (so that Ingest's verifier accepts ours): `iss` = `sub` = the account's
email, `aud`, `iat`, `exp` = iat + 3600, the HCA email and group claims and the scopes; header `kid` =
the key id. A token is reused until shortly before it expires.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from upload_common.errors import ConfigurationError
from upload_common.settings import Settings

TOKEN_LIFETIME_SECONDS = 3600
# Renew this long before expiry so that a token never expires in flight or on a skewed clock.
RENEW_BEFORE_SECONDS = 300
HCA_CLAIM_PREFIX = "https://auth.data.humancellatlas.org/"


@dataclass(frozen=True)
class ServiceAccountKey:
    """Who signs (the account's email) and with what (its RSA key and the key's id)."""

    client_email: str
    private_key: RSAPrivateKey
    key_id: str | None


class ServiceAccountToken:
    """Issues the bearer token; thread-safe, renews it before it expires."""

    def __init__(
        self, key: ServiceAccountKey, audience: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = key
        self._audience = audience
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceAccountToken | None:
        """The token issuer the settings configure, or None when no key is configured."""
        key = load_key(settings)
        if key is None:
            return None
        if not settings.ingest_jwt_audience:
            raise ConfigurationError(
                "UPLOAD_INGEST_JWT_AUDIENCE: required when a notification JWT key is configured"
            )
        return cls(key, settings.ingest_jwt_audience)

    def bearer(self) -> str:
        """A valid token (without the `Bearer ` prefix)."""
        with self._lock:
            now = self._clock()
            if self._token is None or now >= self._expires - RENEW_BEFORE_SECONDS:
                self._token, self._expires = self._issue(int(now))
            return self._token

    def _issue(self, issued_at: int) -> tuple[str, float]:
        email = self._key.client_email
        expires = issued_at + TOKEN_LIFETIME_SECONDS
        claims: dict[str, Any] = {
            "iss": email,
            "sub": email,
            "aud": self._audience,
            "iat": issued_at,
            "exp": expires,
            HCA_CLAIM_PREFIX + "email": email,
            HCA_CLAIM_PREFIX + "group": "hca",
            "scope": ["openid", "email", "offline_access"],
        }
        headers = {"kid": self._key.key_id} if self._key.key_id else None
        token = jwt.encode(claims, self._key.private_key, algorithm="RS256", headers=headers)
        return token, float(expires)


def load_key(settings: Settings) -> ServiceAccountKey | None:
    """The key from `UPLOAD_INGEST_JWT_KEY` (which `UPLOAD_INGEST_JWT_KEY_SECRET_ARN` fills at start-up,
    `upload_common.secrets_manager`) or `UPLOAD_INGEST_JWT_KEY_FILE`, or None when none is set.

    Accepts a Google service-account JSON, the same JSON base64-encoded (how the seed stored it) or a
    bare PEM (then `UPLOAD_INGEST_JWT_ISSUER` names the account). Errors never quote the key.
    """
    if settings.ingest_jwt_key is not None and settings.ingest_jwt_key_file is not None:
        raise ConfigurationError("UPLOAD_INGEST_JWT_KEY and UPLOAD_INGEST_JWT_KEY_FILE: set only one")
    if settings.ingest_jwt_key is not None:
        variable, text = "UPLOAD_INGEST_JWT_KEY", settings.ingest_jwt_key.get_secret_value()
    elif settings.ingest_jwt_key_file is not None:
        variable = "UPLOAD_INGEST_JWT_KEY_FILE"
        try:
            text = settings.ingest_jwt_key_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"{variable}: cannot read the key file: {exc.strerror}") from None
    else:
        return None
    return _parse_key(variable, text.strip(), settings.ingest_jwt_issuer)


def _parse_key(variable: str, text: str, issuer: str | None) -> ServiceAccountKey:
    if text.startswith("-----BEGIN"):
        if not issuer:
            raise ConfigurationError(f"UPLOAD_INGEST_JWT_ISSUER: required when {variable} is a bare PEM key")
        return ServiceAccountKey(issuer, _private_key(variable, text), None)
    if not text.startswith("{"):
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8").strip()
        except (binascii.Error, UnicodeDecodeError):
            raise ConfigurationError(
                f"{variable}: not a PEM key, service-account JSON or base64 JSON"
            ) from None
    try:
        account = json.loads(text)
        email, pem, key_id = account["client_email"], account["private_key"], account.get("private_key_id")
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ConfigurationError(
            f"{variable}: not a service-account JSON with client_email and private_key"
        ) from None
    return ServiceAccountKey(str(email), _private_key(variable, str(pem)), str(key_id) if key_id else None)


def _private_key(variable: str, pem: str) -> RSAPrivateKey:
    try:
        key = load_pem_private_key(pem.encode("utf-8"), password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{variable}: the private key cannot be read") from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigurationError(f"{variable}: RS256 needs an RSA key")
    return key
