"""Notifications are signed per Standard Webhooks, checked by the reference library (`standardwebhooks`),
never by our own code: a captured notification re-sent under a new id, with a changed timestamp or after
the receiver's 5-minute tolerance is refused; the id stays the same across retries."""

from __future__ import annotations

import base64
import dataclasses
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook, WebhookVerificationError

from support.factories import make_file
from support.ingest_server import FakeIngest, ReceivedRequest
from upload_api.context import ApiContext
from upload_api.notify.sender import IngestSender
from upload_api.notify.signing import encode_body, sign, signing_key
from upload_api.workers.dispatcher import dispatch_due
from upload_common.domain.outbox import notify_file_uploaded
from upload_common.errors import ConfigurationError
from upload_common.models import Notification
from upload_common.settings import Settings

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
TOLERANCE = 300  # seconds: the reference library's, which receivers use


@pytest.fixture
def ingest() -> Iterator[FakeIngest]:
    with FakeIngest(secret=SECRET) as server:
        yield server


def deliver_one(
    context: ApiContext, url: str, secret: str = SECRET, *, clock: Callable[[], float] = time.time
) -> Any:
    """Write one `file_uploaded` notification and dispatch it to `url` with a sender on `clock`."""
    context = dataclasses.replace(context, settings=context.settings.model_copy(update={"ingest_url": url}))
    with context.sessions.begin() as session:
        notification = notify_file_uploaded(session, make_file(session), {"upload_area_id": "a"})
    with IngestSender(url, secret, timeout=5, clock=clock) as sender:
        dispatch_due(context, sender=sender)
    return notification.id


def resend(ingest: FakeIngest, request: ReceivedRequest, **changed: str) -> int:
    """Re-send a captured request as an attacker would, with some headers changed; the status."""
    headers = {
        name: value for name, value in request.headers.items() if name not in ("host", "content-length")
    }
    headers.update(changed)
    return httpx.post(ingest.url + request.path, content=request.body, headers=headers).status_code


def test_the_signature_is_the_specifications() -> None:
    # The specification's published example (also what the reference library's `sign` gives).
    key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    # The body: deterministic, and it carries the event type, so that the signature covers it.
    body = encode_body("file_uploaded", {"b": 1, "a": ["é", None]})
    assert body == '{"a":["é",null],"b":1,"event":"file_uploaded"}'.encode()


def test_a_delivered_notification_verifies_and_its_replays_do_not(
    api_context: ApiContext, ingest: FakeIngest
) -> None:
    notification_id = deliver_one(api_context, ingest.url)
    [original] = ingest.requests
    assert original.status == 200
    assert original.headers["webhook-id"] == str(notification_id)
    assert abs(int(original.headers["webhook-timestamp"]) - time.time()) < 60
    assert Webhook(SECRET).verify(original.body, original.headers)["event"] == "file_uploaded"

    # Under a new id, de-duplication would let it through: the signature does not.
    assert resend(ingest, original, **{"webhook-id": "a-new-id"}) == 401
    # With a fresh timestamp, to outlive the tolerance: neither.
    assert resend(ingest, original, **{"webhook-timestamp": str(int(time.time()) + 1)}) == 401
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(original.body, original.headers | {"webhook-id": "a-new-id"})
    # As captured, within the tolerance, it verifies; the receiver drops it by its (signed) id.
    assert resend(ingest, original) == 200
    assert ingest.accepted_ids() == [str(notification_id)] * 2


def test_a_capture_older_than_the_tolerance_is_refused(api_context: ApiContext, ingest: FakeIngest) -> None:
    with FakeIngest() as eavesdropper:  # records anything, checks nothing
        deliver_one(api_context, eavesdropper.url, clock=lambda: time.time() - TOLERANCE - 60)
        [captured] = eavesdropper.requests
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(captured.body, captured.headers)
    assert resend(ingest, captured) == 401
    assert not ingest.signature_valid(ingest.requests[-1])


def test_a_retry_keeps_the_id_and_is_signed_at_its_own_time(
    api_context: ApiContext, ingest: FakeIngest
) -> None:
    # The first attempt's clock is 10 minutes slow: refused as too old, so the row is retried.
    clocks = iter([time.time() - 600, time.time()])
    context = dataclasses.replace(
        api_context, settings=api_context.settings.model_copy(update={"ingest_url": ingest.url})
    )
    with context.sessions.begin() as session:
        notification_id = notify_file_uploaded(session, make_file(session), {"upload_area_id": "a"}).id
    with IngestSender(ingest.url, SECRET, timeout=5, clock=lambda: next(clocks)) as sender:
        assert dispatch_due(context, sender=sender).retried == 1
        with context.sessions() as session:
            row = session.get(Notification, notification_id)
            assert row is not None
            due = row.next_attempt_at
        assert dispatch_due(context, sender=sender, now=due).delivered == 1
    first, second = ingest.requests
    assert [first.status, second.status] == [401, 200]
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(notification_id)
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) >= 590


def test_a_plain_secret_signs_with_its_utf8_bytes(api_context: ApiContext) -> None:
    with FakeIngest(secret="plain secret é") as plain:
        deliver_one(api_context, plain.url, "plain secret é")
        [request] = plain.requests
    assert request.status == 200
    Webhook("plain secret é".encode()).verify(request.body, request.headers)


def test_the_generated_secret_is_in_whsec_form_and_private(in_tmp_cwd: Path) -> None:
    IngestSender.from_settings(Settings(ingest_url="http://127.0.0.1:9")).close()
    path = in_tmp_cwd / "var" / "ingest_secret"
    secret = path.read_text().strip()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Webhook(secret)  # the reference library takes it as it is


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!", "whsec_=="])
def test_a_malformed_whsec_secret_stops_start_up_without_quoting_it(secret: str) -> None:
    settings = Settings(ingest_url="http://127.0.0.1:9", ingest_secret=SecretStr(secret))
    with pytest.raises(ConfigurationError, match="UPLOAD_INGEST_SECRET") as raised:
        IngestSender.from_settings(settings)
    assert "base64!" not in str(raised.value)
