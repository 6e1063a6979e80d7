"""Message payloads into readings: the seed's JSON object, a JSON array of them, or NDJSON."""

from __future__ import annotations

from typing import Any

import orjson

from kgtwin.ingest.observations import Reading


class PayloadError(ValueError):
    """The whole message is unreadable (its reason goes to the dead-letter store)."""


def readings_from_json(payload: bytes, topic_point: str | None = None) -> list[Reading | str]:
    """Readings, or for each item that is not one, the reason why (the message's other items still count).

    Accepts `{sensor_id, value, unit, timestamp, quality}`, an array of such objects, or one object
    per line (NDJSON). `point` and `id` are accepted for `sensor_id`; a topic can name the point.
    """
    try:
        document = orjson.loads(payload)
        items = document if isinstance(document, list) else [document]
    except orjson.JSONDecodeError:
        lines = [line for line in payload.splitlines() if line.strip()]
        if len(lines) < 2:
            raise PayloadError("malformed JSON") from None
        try:
            items = [orjson.loads(line) for line in lines]
        except orjson.JSONDecodeError:
            raise PayloadError("malformed JSON (neither a document nor NDJSON)") from None
    if not items:
        raise PayloadError("empty batch")
    out: list[Reading | str] = []
    for item in items:
        out.append(_reading(item, topic_point))
    return out


def _reading(item: Any, topic_point: str | None) -> Reading | str:
    if not isinstance(item, dict):
        return f"item {item!r} is not an object"
    point = item.get("sensor_id", item.get("point", item.get("id", topic_point)))
    if point is None:
        return "no sensor_id"
    if "value" not in item:
        return f"no value for {point!r}"
    return Reading(
        point=str(point),
        value=item["value"],
        unit=item.get("unit"),
        timestamp=item.get("timestamp", item.get("ts")),
        quality=str(item.get("quality", "good")),
    )
