"""The dashboard's tests use the API fixtures (a real uvicorn over the session's engines)."""

from tests.api.conftest import api  # noqa: F401
