"""Query parameters as the `CYPHER name=value ...` header FalkorDB reads them from.

The official client writes the header value by value through a recursive Python function; for an
ingestion batch of 100,000 observations that took as long as the engine took to store them. Lists
of numbers, booleans and nulls, and strings without control characters, are written the same in
JSON and in Cypher, so orjson writes those whole; maps (backticked keys) and anything unusual go
through the general path, which writes exactly what the client writes.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

_CONTROL = re.compile(r"[\x00-\x1f]")  # orjson escapes these as \u00XX, which FalkorDB does not read back
_NUMERIC = frozenset({int, float, bool, type(None)})


def header(params: Mapping[str, Any]) -> str:
    if not params:
        return ""
    parts = []
    for name, value in params.items():
        if not name or "`" in name:
            raise ValueError(f"parameter name {name!r} cannot be used in a FalkorDB query")
        parts.append(f"`{name}`={literal(value)}")
    return "CYPHER " + " ".join(parts) + " "


def literal(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float and not math.isfinite(value):
        raise ValueError("NaN or infinity cannot be a query parameter")
    if kind is int or kind is float:
        return repr(value)
    if kind is list or kind is tuple:
        if _json_safe(value):
            with contextlib.suppress(orjson.JSONEncodeError):  # an integer beyond 64 bits takes the long way
                return orjson.dumps(value).decode()
        return "[" + ",".join([literal(v) for v in value]) + "]"
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            key = str(key)
            if not key or "`" in key:
                raise ValueError(f"map key {key!r} cannot be used in a FalkorDB query")
            items.append(f"`{key}`:{literal(item)}")
        return "{" + ",".join(items) + "}"
    raise TypeError(f"a {kind.__name__} cannot be a query parameter")


def _json_safe(values: list[Any] | tuple[Any, ...]) -> bool:
    """Whether orjson writes this list exactly as Cypher reads it: no maps, no NaN, no control characters."""
    kinds = {type(v) for v in values}
    if kinds <= _NUMERIC:
        if float in kinds and not all(map(math.isfinite, (v for v in values if type(v) is float))):
            raise ValueError("NaN or infinity cannot be a query parameter")
        return True
    if kinds == {str}:
        return not _CONTROL.search("".join(values))
    if kinds <= {list, tuple}:
        return all(_json_safe(v) for v in values)
    return False


def _string(value: str) -> str:
    if _CONTROL.search(value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return orjson.dumps(value).decode()
