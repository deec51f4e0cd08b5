"""Reliability: credentials stay out of logs and diagnostics, control needs an admin, the built-in
simulator listens on loopback only.

Every test of the suite is also checked by the autouse `no_secret_in_logs` fixture (conftest).
"""

import asyncio
from collections.abc import AsyncIterator
import json
import logging
from typing import Any, cast

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import Unauthorized
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, MockUser

from custom_components.battery_steward.const import (
    DOMAIN,
)
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.device.simulator.cli import build_parser
from custom_components.battery_steward.diagnostics import async_get_config_entry_diagnostics

from .conftest import modbus_data
from .helpers import add_cron_item, device_id, setup_entry, simulator_data
from .support.remote_server import ISSUED_TOKENS, ReferenceApi, serve
from .support.secrets import LogCapture, leaked_secrets
from .test_reliability_input import _valid

PASSWORD = "Pw-Reliability-93f1"
READ_ONLY_SERVICES = {"list_items", "get_journal", "preview_plan"}


@pytest.fixture
async def entry(hass: HomeAssistant, simulator: SimulatedBattery) -> AsyncIterator[MockConfigEntry]:
    entry = await setup_entry(hass, modbus_data(simulator.port))
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


def test_leak_check_finds_tokens_and_passwords() -> None:
    ISSUED_TOKENS.add("0123456789abcdef0123456789abcdef")
    try:
        assert leaked_secrets(["Bearer 0123456789abcdef0123456789abcdef"]) == [
            "0123456789abcdef0123456789abcdef"
        ]
        assert leaked_secrets([f"login with {PASSWORD!r}"]) == [PASSWORD]
        assert leaked_secrets(["a secret-free line", "secretive"]) == []
    finally:
        ISSUED_TOKENS.discard("0123456789abcdef0123456789abcdef")


def test_log_capture_sees_arguments_and_tracebacks() -> None:
    capture = LogCapture()
    logger = logging.getLogger("battery_steward_security_test")
    logger.propagate = False  # kept from the autouse check, which would rightly fail this test
    logger.setLevel(logging.DEBUG)
    logger.addHandler(capture)
    try:
        logger.warning("login as %s", PASSWORD)
        try:
            int(PASSWORD)
        except ValueError:
            logger.debug("failed", exc_info=True)
    finally:
        logger.removeHandler(capture)
    assert len(capture.texts) == 2
    assert all(PASSWORD in text for text in capture.texts)  # in the arguments and in the traceback
    assert leaked_secrets(capture.texts) == [PASSWORD]


async def test_every_control_service_refuses_non_admin_users(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    simulator: SimulatedBattery,
    hass_read_only_user: MockUser,
) -> None:
    device = device_id(hass, entry)
    services = hass.services.async_services_for_domain(DOMAIN)
    assert len(services) >= 17
    item_id = (await add_cron_item(hass, device))[0]
    writes = simulator.write_count
    allowed: set[str] = set()
    for name in sorted(services):
        try:
            await hass.services.async_call(
                DOMAIN,
                name,
                _valid(name, device, item_id),  # valid, so only the user can be refused
                blocking=True,
                context=Context(user_id=hass_read_only_user.id),
                return_response=name in READ_ONLY_SERVICES,
            )
        except Unauthorized:
            continue
        except Exception:
            pass
        allowed.add(name)
    assert allowed == READ_ONLY_SERVICES
    assert simulator.write_count == writes


async def test_builtin_simulator_listens_on_loopback_only(hass: HomeAssistant) -> None:
    entry = await setup_entry(
        hass, simulator_data("SIM-LOOPBACK"), title="Simulated", unique_id="SIM-LOOPBACK"
    )
    simulator = entry.runtime_data.simulator
    assert simulator is not None
    server = cast(asyncio.Server, simulator._server.transport)
    addresses = {sock.getsockname()[0] for sock in server.sockets}
    assert addresses == {"127.0.0.1"}
    assert entry.runtime_data.driver.host == "127.0.0.1"
    await hass.config_entries.async_unload(entry.entry_id)
    # The stand-alone simulator binds loopback unless told otherwise.
    assert build_parser().parse_args([]).host == "127.0.0.1"


async def test_no_credential_or_token_in_diagnostics_or_logs(
    hass: HomeAssistant, simulator: SimulatedBattery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = ReferenceApi(password=PASSWORD)
    async with serve(api) as url:
        options: dict[str, Any] = {
            "api_url": url,
            "api_username": "steward",
            "api_password": PASSWORD,
            "api_plant": "lib",
            "api_tomorrow_hour": 13,
        }
        entry = await setup_entry(hass, modbus_data(simulator.port), options=options)
        fetcher = entry.runtime_data.fetcher
        assert fetcher is not None
        await fetcher.async_refresh()
        assert api.tokens  # logged in: a live token exists
        # Failures are logged too: a revoked token, then a rejected password.
        api.revoke_tokens()
        api.password = "Pw-Rotated-Reliability-11"
        await fetcher.async_refresh()
        text = json.dumps(await async_get_config_entry_diagnostics(hass, entry), default=str)
        assert PASSWORD not in text
        assert not any(token in text for token in ISSUED_TOKENS)
        await hass.config_entries.async_unload(entry.entry_id)
    logs = [f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records]
    assert any("steward" in line or "schedule" in line.lower() for line in logs)
    assert leaked_secrets(logs) == []
