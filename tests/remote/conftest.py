"""Fixtures shared by the remote API tests: the reference server and the options that point at it."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ..support.remote_server import ReferenceApi, serve


@pytest.fixture
async def api_url(api: ReferenceApi) -> AsyncIterator[str]:
    """The reference server (each test module gives its own `api`) on loopback."""
    async with serve(api) as url:
        yield url


def api_options(url: str, password: str = "secret") -> dict[str, Any]:
    """Entry options for the reference server's plant `lib`."""
    return {
        "api_url": url,
        "api_username": "steward",
        "api_password": password,
        "api_plant": "lib",
        "api_tomorrow_hour": 13,
    }
