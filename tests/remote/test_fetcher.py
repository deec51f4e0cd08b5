"""Fetching the day-ahead series into the controller, and reauth on refused credentials."""

import asyncio
from datetime import datetime, timedelta
import json
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.battery_steward.api import fetcher as fetcher_module
from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.diagnostics import async_get_config_entry_diagnostics

from ..conftest import modbus_data
from ..helpers import confirm_switching, entity_id, freeze_at, options_step, setup_entry
from ..support.remote_server import ReferenceApi, day_rows
from .conftest import api_options

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 6, 1, 14, 0, tzinfo=PARIS)


def rows_for(day: str, power: float) -> list[dict[str, Any]]:
    """Hourly rows for the plant's local (Paris) day, as the contract says."""
    return day_rows(day, "Europe/Paris", lambda _local: power, period_s=3600)


@pytest.fixture
def api() -> ReferenceApi:
    return ReferenceApi(schedules={("lib", "2026-06-01"): rows_for("2026-06-01", 500)})


async def setup(hass: HomeAssistant, simulator: SimulatedBattery, opts: dict[str, Any]) -> MockConfigEntry:
    return await setup_entry(hass, modbus_data(simulator.port), options=opts, wait="background")


async def test_fetch_today_then_tomorrow_when_published(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    api: ReferenceApi,
    api_url: str,
) -> None:
    await freeze_at(hass, freezer, NOW)
    entry = await setup(hass, simulator, api_options(api_url))
    fetcher = entry.runtime_data.fetcher
    assert fetcher is not None
    assert fetcher.status.today_fetched
    assert not fetcher.status.tomorrow_fetched  # asked for, not published yet
    assert fetcher.status.today_points == 24
    series = entry.runtime_data.controller.series
    assert series is not None
    assert len(series.rows) == 24
    # Tomorrow appears; the next fetch picks it up and the series grows.
    api.schedules[("lib", "2026-06-02")] = rows_for("2026-06-02", -800)
    await fetcher.async_refresh()
    assert fetcher.status.tomorrow_fetched
    assert len(entry.runtime_data.controller.series.rows) == 48
    logins = api.logins
    await fetcher.async_refresh()  # unchanged: nothing re-applied, no new login
    assert api.logins == logins
    assert fetcher.status.as_dict()["connected"] is True

    await fetcher.async_refresh()
    entry.runtime_data.controller._notify()
    await hass.async_block_till_done()
    state = hass.states.get(entity_id(hass, "sensor", "schedule_api"))
    assert state is not None
    assert state.attributes["today_points"] == 24
    assert state.attributes["post_pending_queue_count"] == 0
    await hass.config_entries.async_unload(entry.entry_id)


async def test_server_errors_are_status_not_crashes(
    hass: HomeAssistant, simulator: SimulatedBattery, api: ReferenceApi, api_url: str
) -> None:
    entry = await setup(hass, simulator, api_options(api_url))
    fetcher = entry.runtime_data.fetcher
    assert fetcher is not None
    api.fail_5xx = 100
    fetcher.client._retries = 0
    await fetcher.async_refresh()
    assert fetcher.status.connected is False
    assert "503" in (fetcher.status.last_error or "")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_refused_twice_starts_reauth_and_reauth_fixes_it(
    hass: HomeAssistant, simulator: SimulatedBattery, api: ReferenceApi, api_url: str
) -> None:
    entry = await setup(hass, simulator, api_options(api_url))
    api.password = "rotated"
    api.revoke_tokens()
    fetcher = entry.runtime_data.fetcher
    assert fetcher is not None
    await fetcher.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
    flow_id = flows[0]["flow_id"]
    result = await hass.config_entries.flow.async_configure(flow_id, {"api_password": "wrong"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(flow_id, {"api_password": "rotated"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.options["api_password"] == "rotated"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.fetcher.status.connected
    await hass.config_entries.async_unload(entry.entry_id)


async def test_options_check_api_credentials(
    hass: HomeAssistant, simulator: SimulatedBattery, api: ReferenceApi, api_url: str
) -> None:
    entry = await setup(hass, simulator, {})
    assert entry.runtime_data.fetcher is None
    result = await options_step(hass, entry.entry_id, "api")
    assert (result.get("description_placeholders") or {})["docs_url"].endswith("docs/remote-api.md")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], api_options(api_url, password="nope")
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], api_options("http://127.0.0.1:9")
    )
    assert result["errors"] == {"base": "api_cannot_connect"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], api_options(api_url))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    fetcher = entry.runtime_data.fetcher
    assert fetcher is not None
    assert fetcher.status.connected  # logged in; today (the real date) is not published
    await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostics_redact_api_credentials(
    hass: HomeAssistant, simulator: SimulatedBattery, api: ReferenceApi, api_url: str
) -> None:

    entry = await setup(hass, simulator, api_options(api_url))
    text = json.dumps(await async_get_config_entry_diagnostics(hass, entry))
    assert "secret" not in text
    assert '"api_username": "**REDACTED**"' in text
    assert api_url not in text
    assert '"schedule_api"' in text
    await hass.config_entries.async_unload(entry.entry_id)


async def test_recorded_samples_are_posted_when_source_is_api(
    hass: HomeAssistant, simulator: SimulatedBattery, api: ReferenceApi, api_url: str, tmp_path: Any
) -> None:
    hass.config.config_dir = str(tmp_path)
    entry = await setup(hass, simulator, api_options(api_url))
    runtime = entry.runtime_data
    poster = runtime.poster
    assert poster is not None
    runtime.recording.sampler.step_s = 0.05
    runtime.recording.start()
    await asyncio.sleep(0.3)
    assert poster.pending > 0
    await poster.async_post()
    assert api.measurements == []  # source is manual: the gate is closed
    runtime.controller.source = "api"
    await poster.async_post()
    assert api.measurements
    assert api.measurements[0]["timestamp"].endswith("+00:00")
    t = poster.telemetry
    assert t.enqueued == t.posted + t.dropped_count + poster.pending
    await hass.config_entries.async_unload(entry.entry_id)


async def test_posting_samples_without_the_recording_switch(
    hass: HomeAssistant, simulator: SimulatedBattery, api: ReferenceApi, api_url: str, tmp_path: Any
) -> None:
    # The three gates only: source api, password set, posting on. Recording (CSV) stays off.

    hass.config.config_dir = str(tmp_path)
    entry = await setup(hass, simulator, api_options(api_url))
    runtime = entry.runtime_data
    poster = runtime.poster
    assert poster is not None
    assert not runtime.recording.running
    assert not runtime.recording.sampling  # source is manual: the gate is closed, nothing sampled
    runtime.recording.sampler.step_s = 0.05
    await confirm_switching(hass)
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": entity_id(hass, "select", "schedule_source"), "option": "api"},
        blocking=True,
    )

    async def post_tick() -> None:
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=11))
        await hass.async_block_till_done()

    await post_tick()  # the gates are open now: sampling starts for the poster
    assert runtime.recording.sampling
    await asyncio.sleep(0.3)
    assert poster.pending > 0
    await post_tick()
    for _ in range(100):  # the tick's post is on its way over HTTP
        if not poster.posting:
            break
        await asyncio.sleep(0.02)
    assert api.measurements
    assert not runtime.recording.running
    assert runtime.recording.rows_written == 0
    assert not (tmp_path / "battery_steward").exists()  # no CSV written
    t = poster.telemetry
    assert t.enqueued == t.posted + t.dropped_count + poster.pending
    # Recording on and off again does not stop the poster's sampling.
    runtime.recording.start()
    await runtime.recording.async_stop()
    assert runtime.recording.sampling
    # Gate closed (source manual): sampling stops at the next tick.
    await confirm_switching(hass)
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": entity_id(hass, "select", "schedule_source"), "option": "manual"},
        blocking=True,
    )
    await post_tick()
    assert not runtime.recording.sampling
    # With recording on, a closed gate does not stop the sampling CSV needs.
    runtime.recording.start()
    await post_tick()
    assert runtime.recording.sampling
    await runtime.recording.async_stop()
    assert not runtime.recording.sampling
    await hass.config_entries.async_unload(entry.entry_id)


async def test_options_never_send_the_password_and_empty_keeps_it(
    hass: HomeAssistant,
    simulator: SimulatedBattery,
    api: ReferenceApi,
    api_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fetcher_module, "CLIENT_BACKOFF_S", 0.01)
    entry = await setup(hass, simulator, api_options(api_url))

    def suggested(result: Any) -> dict[str, Any]:
        return {
            str(key): (key.description or {}).get("suggested_value")
            for key in result["data_schema"].schema
            if (key.description or {}).get("suggested_value") is not None
        }

    result = await options_step(hass, entry.entry_id, "api")
    shown = suggested(result)
    assert shown["api_username"] == "steward"  # the rest is pre-filled...
    assert "api_password" not in shown  # ...the secret never goes to the browser
    assert "secret" not in repr(result)
    no_password = {k: v for k, v in api_options(api_url).items() if k != "api_password"}
    # A wrong API URL re-shows the form, still without the password.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**no_password, "api_url": "http://127.0.0.1:9"}
    )
    assert result["errors"] == {"base": "api_cannot_connect"}
    assert "api_password" not in suggested(result)
    # An empty field keeps the stored password (checked by logging in with it).
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**no_password, "api_password": ""}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["api_password"] == "secret"
    await hass.async_block_till_done(wait_background_tasks=True)
    await hass.config_entries.async_unload(entry.entry_id)
