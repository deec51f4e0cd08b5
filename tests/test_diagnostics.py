"""Config entry and device diagnostics, fetched over Home Assistant's HTTP API, leak nothing."""

from collections.abc import AsyncIterator
import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.default_item import MINOR_VERSION_WITH_DEFAULT
from custom_components.battery_steward.device.simulator import SimulatedBattery

from .conftest import SERIAL, modbus_data
from .support.remote_server import ReferenceApi, serve

PASSWORD = "pa55-w0rd-secret"
USERNAME = "steward-user"


@pytest.fixture
async def api_url() -> AsyncIterator[tuple[ReferenceApi, str]]:
    api = ReferenceApi(username=USERNAME, password=PASSWORD)
    async with serve(api) as url:
        yield api, url


@pytest.fixture
async def entry(
    hass: HomeAssistant, simulator: SimulatedBattery, api_url: tuple[ReferenceApi, str]
) -> AsyncIterator[MockConfigEntry]:
    _, url = api_url
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"Steward Sim 10 {SERIAL}",
        unique_id=SERIAL,
        data=modbus_data(simulator.port),
        minor_version=MINOR_VERSION_WITH_DEFAULT,  # its items are the test's
        options={
            "api_url": url,
            "api_username": USERNAME,
            "api_password": PASSWORD,
            "api_plant": "lib",
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    device = device_of(hass, entry)
    await hass.services.async_call(
        DOMAIN, "add_preset", {"device_id": [device.id], "preset": "night_idle"}, blocking=True
    )
    # An override held until cleared: the desired state is not empty at whatever hour this runs
    # (the night idle window alone is empty in the daytime).
    await hass.services.async_call(
        DOMAIN,
        "set_override",
        {"device_id": [device.id], "reserve_pct": 40, "until_cleared": True},
        blocking=True,
    )
    await hass.services.async_call(DOMAIN, "reconcile_now", {"device_id": [device.id]}, blocking=True)
    await hass.async_block_till_done(wait_background_tasks=True)
    yield entry
    await hass.config_entries.async_unload(entry.entry_id)


def device_of(hass: HomeAssistant, entry: MockConfigEntry) -> dr.DeviceEntry:
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, SERIAL), entry.entry_id)
    assert device is not None
    return device


def assert_nothing_secret(diag: Any, api: ReferenceApi, url: str) -> None:
    text = json.dumps(diag)
    assert api.tokens, "the client logged in, so there is a token to leak"
    for secret in (SERIAL, "127.0.0.1", url, PASSWORD, USERNAME, *api.tokens):
        assert secret not in text, secret


def assert_complete(diag: Any) -> None:
    assert diag["entry"]["data"]["host"] == "**REDACTED**"
    assert diag["entry"]["data"]["port"] > 0  # configuration that is not secret stays
    assert diag["entry"]["options"]["api_password"] == "**REDACTED**"
    assert diag["entry"]["options"]["api_plant"] == "lib"
    assert diag["device"]["serial"] == "**REDACTED**"
    assert diag["device"]["limits"]["max_charge_w"] > 0
    assert diag["last_reading"]["soc_pct"] == 50.0
    assert diag["connected"] is True
    assert diag["schedule_api"]["token_held"] is True
    assert diag["controller"]["desired"]["reserve_pct"] == 40
    assert "in_sync" in diag["controller"]
    # The preset completed the battery's (absent) default with automatic mode.
    assert [item["name"] for item in diag["items"]] == ["Night idle 22:00-06:00", "Default"]
    assert diag["plan_24h"], "the night idle item changes the plan within a day"
    assert diag["journal_tail"][-1]["trigger"] == "manual"  # reconcile_now, which waits for its own run


async def test_config_entry_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    entry: MockConfigEntry,
    api_url: tuple[ReferenceApi, str],
) -> None:
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert_complete(diag)
    assert_nothing_secret(diag, *api_url)


async def test_device_diagnostics(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    entry: MockConfigEntry,
    api_url: tuple[ReferenceApi, str],
) -> None:
    device = device_of(hass, entry)
    diag = await get_diagnostics_for_device(hass, hass_client, entry, device)
    assert_complete(diag)
    registry = diag["device_registry"]
    assert registry["identifiers"] == "**REDACTED**"
    assert registry["serial_number"] == "**REDACTED**"
    assert registry["name"] == "**REDACTED**"
    assert registry["model"] == "Steward Sim 10"
    assert_nothing_secret(diag, *api_url)
