"""What every resolver of one request has at hand: the twin, the caller, and the batched reader.

An HTTP request is authenticated before it reaches GraphQL; a WebSocket connection is, when its
`connection_init` message arrives with the key in its payload (browsers cannot set headers on a
WebSocket), so until then it has no caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as StrawberryInfo

from kgtwin.api.auth import Principal, Unauthorised
from kgtwin.api.graphql.loaders import GraphReader
from kgtwin.api.service import Twin


@dataclass
class RequestContext:
    twin: Twin
    caller: Principal | None = None
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] = field(default_factory=dict)
    metrics: Any = None  # the app's ServiceMetrics, when there is an app
    _reader: GraphReader | None = None

    @property
    def principal(self) -> Principal:
        if self.caller is None:
            raise Unauthorised("an API key is required")
        return self.caller

    @property
    def reader(self) -> GraphReader:
        if self._reader is None:
            self._reader = GraphReader(self.twin.store, self.principal)
        return self._reader

    def fresh_reader(self) -> GraphReader:
        """A reader of its own, for each message of a long-lived subscription."""
        return GraphReader(self.twin.store, self.principal)


Info = StrawberryInfo[RequestContext, None]
