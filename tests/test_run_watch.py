"""Failures you see: a failure streak is logged once and becomes a repair issue; the safe stop button
says when it fails; Last run result follows each journal record at once (simulator over TCP)."""

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
import logging
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.engine.journal import Result, Trigger

from .conftest import modbus_data
from .helpers import controller, entity_id, freeze_at, let_sockets_settle, setup_entry
from .support.fault_proxy import WRITE_CODES, Fault, FaultProxy
from .support.simclock import advance

START = datetime(2026, 6, 15, 12, tzinfo=ZoneInfo("Europe/Paris"))
DEFAULT = {"type": "default", "name": "Default", "setpoints": {"reserve_pct": 35}}


@pytest.fixture
async def proxy(simulator: SimulatedBattery) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(simulator.port) as running:
        yield running


async def test_failure_streak_logged_once_then_repair_issue_that_clears(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    simulator: SimulatedBattery,
    proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    proxy.set_fault(Fault(kind="exception", only=WRITE_CODES))  # the battery refuses every write
    await freeze_at(hass, freezer, START)
    entry = await setup_entry(hass, modbus_data(proxy.port), items=[DEFAULT], wait="settle")
    issue_id = f"run_failures_{entry.entry_id}"
    issues = ir.async_get(hass)
    await advance(hass, freezer, 5 + 10, step_s=5)  # the retries back off: 5 s, then 10 s
    failed = [r for r in controller(entry).journal.query() if r.result is Result.FAILED]
    assert len(failed) >= 3
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "run_failures"
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["battery"] == "Battery"
    assert issue.translation_placeholders["fields"] == "reserve_pct"
    assert issue.translation_placeholders["error"] == failed[-1].error
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "run failed" in r.getMessage()]
    assert len(warnings) == 1  # once per streak, not once per retry
    state = hass.states.get(entity_id(hass, "sensor", "last_run_result"))
    assert state is not None
    assert (state.state, state.attributes["fields"]) == (
        "failed",
        {"reserve_pct": {"old": 20.0, "new": 35.0}},
    )
    # The record (and so the sensor) names the item whose value the run tried to write.
    (default_id,) = entry.subentries
    assert state.attributes["items"] == {"reserve_pct": default_id}

    proxy.set_fault(Fault())
    await advance(hass, freezer, 40, step_s=5)
    assert simulator.read_register("reserve_pct") == 35
    assert issues.async_get_issue(DOMAIN, issue_id) is None
    assert any(r.levelno == logging.INFO and "runs succeed again" in r.getMessage() for r in caplog.records)
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()


async def test_last_run_result_follows_each_record_at_once(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, simulator: SimulatedBattery
) -> None:
    await freeze_at(hass, freezer, START)
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="background")
    sensor = entity_id(hass, "sensor", "last_run_result")
    # A record the controller adds between polls (as the effect check's no_effect): shown at once.
    controller(entry).journal.add(
        trigger=Trigger.VERIFY, scheduled=None, executed=dt_util.utcnow(), result=Result.NO_EFFECT
    )
    await hass.async_block_till_done()
    state = hass.states.get(sensor)
    assert state is not None
    assert (state.state, state.attributes["trigger"]) == ("no_effect", "verify")
    # An item edit is journaled but is not a run: the last run result stays.
    controller(entry).journal.add(
        trigger=Trigger.EDIT,
        scheduled=None,
        executed=dt_util.utcnow(),
        result=Result.SUCCESS,
        note="item added",
    )
    await hass.async_block_till_done()
    state = hass.states.get(sensor)
    assert state is not None
    assert state.state == "no_effect"
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()


async def test_safe_stop_button_says_when_it_fails(hass: HomeAssistant, simulator: SimulatedBattery) -> None:
    entry = await setup_entry(hass, modbus_data(simulator.port), wait="background")
    ctl = controller(entry)
    ctl.settings = replace(ctl.settings, safe_stop_timeout_s=0.5)
    simulator.model.stuck_power_w = 1500.0  # a battery that will not ramp down
    with pytest.raises(HomeAssistantError) as failed:
        await hass.services.async_call(
            "button", "press", {"entity_id": entity_id(hass, "button", "safe_stop")}, blocking=True
        )
    assert failed.value.translation_key == "safe_stop_failed"
    assert failed.value.translation_placeholders is not None
    assert failed.value.translation_placeholders["battery"] == "Battery"
    simulator.model.stuck_power_w = None
    await hass.config_entries.async_unload(entry.entry_id)
    await let_sockets_settle()
