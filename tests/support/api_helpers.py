"""Helpers for the API tests."""

from __future__ import annotations

from typing import Any

from upload_common.queues import MessageQueue


def drain(queue: MessageQueue) -> list[str]:
    """Every message body now in the queue (acked)."""
    bodies: list[str] = []
    while batch := queue.receive(max_messages=10):
        for message in batch:
            bodies.append(message.body)
            queue.ack(message)
    return bodies


def problem_of(response: Any) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    return body
