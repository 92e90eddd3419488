"""The Standard Webhooks headers, signed by the `standardwebhooks` package.

`webhook-id` is the outbox id of the event (`evt_<id>`): the same for every
attempt of one event to one endpoint. While a rotated-out secret still signs,
`webhook-signature` carries one signature per secret, space-separated, newest
first, so a receiver that knows either one verifies.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from standardwebhooks import Webhook

from gridjobs.webhooks.secrets import Secret


def message_id(event_id: int) -> str:
    return f"evt_{event_id}"


def signed_headers(secrets: Sequence[Secret], *, event_id: int, body: str,
                   at: datetime | None = None) -> dict[str, str]:
    if not secrets:
        raise ValueError("an endpoint signs with at least one secret")
    at = (at or datetime.now(timezone.utc)).replace(microsecond=0)
    msg_id = message_id(event_id)
    signatures = " ".join(Webhook(s.material).sign(msg_id, at, body) for s in secrets)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signatures, "content-type": "application/json"}
