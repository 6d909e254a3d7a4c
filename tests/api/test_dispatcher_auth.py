"""How notifications are authenticated (a wrong signing secret; the seed's RS256 service-account JWT;
the Standard Webhooks signature itself is in test_dispatcher_signing) and scheduled (exponential backoff
with jitter), and how bad settings are refused at start."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr

from support.factories import make_file
from support.ingest_server import FakeIngest
from upload_api.context import ApiContext
from upload_api.notify.backoff import retry_delay
from upload_api.notify.sender import IngestSender
from upload_api.notify.service_account import ServiceAccountToken, load_key
from upload_api.workers.dispatcher import dispatch_due
from upload_common.domain.outbox import notify_file_uploaded
from upload_common.errors import ConfigurationError
from upload_common.settings import Settings

SECRET = "test-ingest-secret"
AUDIENCE = "https://dev.data.humancellatlas.org/"
EMAIL = "upload@dcp.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_of(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def service_account_json(key: rsa.RSAPrivateKey) -> str:
    return json.dumps({"client_email": EMAIL, "private_key": pem_of(key), "private_key_id": "key-1"})


@pytest.fixture
def ingest() -> Iterator[FakeIngest]:
    with FakeIngest(secret=SECRET) as server:
        yield server


def with_settings(context: ApiContext, **changes: Any) -> ApiContext:
    return dataclasses.replace(context, settings=context.settings.model_copy(update=changes))


def test_a_wrong_secret_is_refused_by_the_receiver_and_retried(
    api_context: ApiContext, ingest: FakeIngest
) -> None:
    context = with_settings(api_context, ingest_url=ingest.url, ingest_secret=SecretStr("not-the-secret"))
    with context.sessions.begin() as session:
        notify_file_uploaded(session, make_file(session), {"upload_area_id": "a"})
    report = dispatch_due(context)
    assert report.retried == 1
    assert [request.status for request in ingest.requests] == [401]


def test_the_seed_jwt_is_sent_when_a_service_account_key_is_configured(
    api_context: ApiContext, ingest: FakeIngest, rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    key_file = tmp_path / "service-account.json"
    key_file.write_text(service_account_json(rsa_key))
    context = with_settings(
        api_context,
        ingest_url=ingest.url,
        ingest_secret=SecretStr(SECRET),
        ingest_jwt_key_file=key_file,
        ingest_jwt_audience=AUDIENCE,
    )
    with context.sessions.begin() as session:
        notify_file_uploaded(session, make_file(session), {"upload_area_id": "a"})
    assert dispatch_due(context).delivered == 1

    [request] = ingest.requests
    scheme, token = request.headers["authorization"].split(" ", 1)
    assert scheme == "Bearer"
    assert jwt.get_unverified_header(token)["kid"] == "key-1"
    claims = jwt.decode(token, rsa_key.public_key(), algorithms=["RS256"], audience=AUDIENCE)
    assert claims["iss"] == claims["sub"] == EMAIL
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["https://auth.data.humancellatlas.org/email"] == EMAIL
    assert claims["https://auth.data.humancellatlas.org/group"] == "hca"
    assert claims["scope"] == ["openid", "email", "offline_access"]
    assert ingest.signature_valid(request)  # the signature is still there


def test_a_token_is_reused_until_shortly_before_it_expires(rsa_key: rsa.RSAPrivateKey) -> None:
    settings = Settings(ingest_jwt_key=service_account_json(rsa_key), ingest_jwt_audience=AUDIENCE)
    key = load_key(settings)
    assert key is not None
    start = float(int(time.time()) - 3301)  # so that the renewed token is issued about now
    now = [start]
    token = ServiceAccountToken(key, AUDIENCE, clock=lambda: now[0])
    first = token.bearer()
    now[0] += 3000
    assert token.bearer() == first
    now[0] += 301  # within five minutes of expiry
    renewed = token.bearer()
    assert renewed != first
    assert (
        jwt.decode(renewed, rsa_key.public_key(), algorithms=["RS256"], audience=AUDIENCE)["iat"]
        == start + 3301
    )


def test_key_forms_the_seed_and_operators_use(rsa_key: rsa.RSAPrivateKey) -> None:
    seed_form = base64.b64encode(service_account_json(rsa_key).encode()).decode()
    key = load_key(Settings(ingest_jwt_key=seed_form))
    assert key is not None
    assert (key.client_email, key.key_id) == (EMAIL, "key-1")
    pem = load_key(Settings(ingest_jwt_key=pem_of(rsa_key), ingest_jwt_issuer="me@example.org"))
    assert pem is not None
    assert (pem.client_email, pem.key_id) == ("me@example.org", None)
    assert load_key(Settings()) is None


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"ingest_jwt_key": "{}"}, "UPLOAD_INGEST_JWT_KEY"),
        ({"ingest_jwt_key": "not a key at all"}, "UPLOAD_INGEST_JWT_KEY"),
        ({"ingest_jwt_key_file": Path("/nonexistent/key.json")}, "UPLOAD_INGEST_JWT_KEY_FILE"),
        ({"ingest_jwt_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}, "ISSUER"),
    ],
)
def test_bad_key_settings_stop_start_up_naming_the_variable(overrides: dict[str, Any], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        load_key(Settings(**overrides))


def test_a_key_needs_an_audience_and_must_be_rsa(rsa_key: rsa.RSAPrivateKey) -> None:
    settings = Settings(
        ingest_url="http://127.0.0.1:9", ingest_secret=SECRET, ingest_jwt_key=service_account_json(rsa_key)
    )
    with pytest.raises(ConfigurationError, match="UPLOAD_INGEST_JWT_AUDIENCE"):
        IngestSender.from_settings(settings)
    ec_pem = pem_of(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ConfigurationError, match="RSA"):
        load_key(Settings(ingest_jwt_key=ec_pem, ingest_jwt_issuer="me@example.org"))


@pytest.mark.parametrize("url", [None, "ftp://ingest.example.org", "not a url"])
def test_the_sender_needs_an_http_ingest_url(url: str | None) -> None:
    with pytest.raises(ConfigurationError, match="UPLOAD_INGEST_URL"):
        IngestSender.from_settings(Settings(ingest_url=url, ingest_secret=SECRET))


def test_retry_delays_grow_exponentially_with_jitter_up_to_the_cap() -> None:
    delays = [retry_delay(n, initial=2, maximum=60).total_seconds() for n in range(1, 9)]
    for n, delay in enumerate(delays[:5], start=1):
        assert 2 * 2 ** (n - 1) <= delay <= 2 * 2 ** (n - 1) + 2
    assert all(60 <= delay <= 62 for delay in delays[5:])  # capped; the jitter still spreads them
    assert len({retry_delay(9, initial=2, maximum=60) for _ in range(20)}) > 1
