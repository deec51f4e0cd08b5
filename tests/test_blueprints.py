"""The blueprints load through Home Assistant's blueprint integration and run as automations.

Each one is instantiated with use_blueprint, as a user would from the UI, and driven by real
time triggers against the simulated battery: our actions really run and the registers change.
"""

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
import shutil
from typing import Any
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_get_persistent_notifications,
)

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery

from .helpers import device_id, entity_id, freeze_at, let_sockets_settle, load

SOURCE = Path(__file__).resolve().parent.parent / "blueprints" / "automation" / "battery_steward"
PARIS = ZoneInfo("Europe/Paris")
# Wednesday 3 June 2026, just before the 11:30 check.
MORNING = datetime(2026, 6, 3, 11, 29, 30, tzinfo=PARIS)


class ManualClock:
    """The simulator's physics clock, moved by hand together with Home Assistant's."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def simulator(sim_config: SimConfig, clock: ManualClock) -> AsyncIterator[SimulatedBattery]:
    battery = SimulatedBattery(sim_config, clock=clock)
    await battery.start(host="127.0.0.1", port=0)
    yield battery
    await battery.stop()
    await let_sockets_settle()


Advance = Callable[..., Any]


@pytest.fixture
async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, clock: ManualClock) -> Advance:
    async def _advance(seconds: float, step_s: float = 10.0) -> None:
        """Move both clocks in steps (poll-sized by default), so polls and timers run as they would."""
        remaining = seconds
        while remaining > 0:
            step = min(remaining, step_s)
            freezer.tick(timedelta(seconds=step))
            clock.now += step
            async_fire_time_changed(hass)
            await hass.async_block_till_done(wait_background_tasks=True)
            remaining -= step

    return _advance


@pytest.fixture
async def battery(
    hass: HomeAssistant,
    tmp_path: Path,
    freezer: FrozenDateTimeFactory,
    modbus_entry: MockConfigEntry,
) -> AsyncIterator[str]:
    """The simulated battery set up at MORNING, with our blueprints in the config directory."""
    hass.config.config_dir = str(tmp_path)
    shutil.copytree(SOURCE, tmp_path / "blueprints" / "automation" / "battery_steward")
    await freeze_at(hass, freezer, MORNING)
    await load(hass, modbus_entry, wait="background")
    yield device_id(hass, modbus_entry)
    if hass.services.has_service("automation", "turn_off"):  # detach the blueprint's time triggers
        await hass.services.async_call("automation", "turn_off", {"entity_id": "all"}, blocking=True)
    await hass.config_entries.async_unload(modbus_entry.entry_id)


async def use_blueprint(hass: HomeAssistant, path: str, inputs: dict[str, Any]) -> None:
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                {"id": "under_test", "alias": "Under test", "use_blueprint": {"path": path, "input": inputs}}
            ]
        },
    )
    await hass.async_block_till_done()
    state = hass.states.get("automation.under_test")
    assert state is not None, "the blueprint did not instantiate"
    assert state.state == "on"


async def item_names(hass: HomeAssistant, device_id: str) -> list[str]:
    listed = await hass.services.async_call(
        DOMAIN, "list_items", {"device_id": device_id}, blocking=True, return_response=True
    )
    batteries: Any = listed
    return [str(item["name"]) for entry in batteries.values() for item in entry["items"]]


@pytest.mark.parametrize("name", sorted(p.name for p in SOURCE.glob("*.yaml")))
def test_blueprint_is_valid(name: str) -> None:
    """Home Assistant's own blueprint and automation schemas accept every file."""
    data = load_yaml_dict(str(SOURCE / name))
    blueprint = models.Blueprint(data, expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA)
    assert blueprint.metadata["source_url"].endswith(f"blueprints/automation/battery_steward/{name}")
    assert blueprint.inputs
    for spec in blueprint.inputs.values():
        assert spec["name"]


async def test_precharge_before_a_peak_day(
    hass: HomeAssistant, battery: str, simulator: SimulatedBattery, advance: Advance
) -> None:
    hass.states.async_set("sensor.rte_tempo_couleur_demain", "Rouge")
    await use_blueprint(
        hass,
        "battery_steward/precharge_before_peak_day.yaml",
        {
            "battery": battery,
            "state_of_charge": entity_id(hass, "sensor", "state_of_charge"),
            "peak_sensor": "sensor.rte_tempo_couleur_demain",
            "target_soc": 60,
            "charge_power": 5000,
        },
    )
    await advance(60)  # 11:30: tomorrow is red, tonight's charge is planned
    assert await item_names(hass, battery) == ["Pre-charge before peak day"]
    assert simulator.read_register("mode") == 0  # nothing happens before the window
    await advance((22 * 60 - 11 * 60 - 30.5) * 60, 300)  # to 22:00
    await advance(30)
    assert simulator.read_register("mode") == 1  # force charge
    assert simulator.read_register("reserve_pct") == 60
    assert float(simulator.read_register("soc_pct")) < 60
    # 10 % of 10 kWh at 5 kW is 12 minutes; charging stops at the target and the reserve holds it.
    await advance(15 * 60)
    assert simulator.read_register("mode") == 0
    assert simulator.read_register("reserve_pct") == 60
    soc = float(simulator.read_register("soc_pct"))
    assert 60 <= soc < 62
    await advance(10 * 60)
    assert abs(float(simulator.read_register("soc_pct")) - soc) < 0.5  # no longer charging
    # The next day is not red: the old item is removed and none is added.
    hass.states.async_set("sensor.rte_tempo_couleur_demain", "Bleu")
    await advance((13 * 60 + 5) * 60, 300)  # past 11:30 the next day
    assert await item_names(hass, battery) == []


async def test_notify_on_repair_issue_and_failed_run(
    hass: HomeAssistant, battery: str, simulator: SimulatedBattery, advance: Advance
) -> None:
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    hass.config_entries.async_update_entry(
        entry, options={"fight_max_corrections": 2, "fight_window_min": 10}
    )
    await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert await async_setup_component(hass, "persistent_notification", {})
    await use_blueprint(
        hass,
        "battery_steward/notify_on_problems.yaml",
        {"last_run_results": [entity_id(hass, "sensor", "last_run_result")]},
    )
    # Something else keeps changing the reserve Battery Steward holds: a fight repair issue.
    await hass.services.async_call(
        DOMAIN,
        "set_override",
        {"device_id": battery, "reserve_pct": 80, "until_cleared": True},
        blocking=True,
    )
    await advance(20)
    for value in (50, 60, 50):
        simulator.set_control("reserve_pct", value)
        await advance(20)
    notes = list(async_get_persistent_notifications(hass).values())
    assert [n["title"] for n in notes] == ["Battery Steward needs attention"]
    assert "fight_" in notes[0]["message"]
    assert "Repairs" in notes[0]["message"]
    # The battery goes away; a reconcile run fails and that is reported too.
    await simulator.stop()
    await let_sockets_settle()
    idle = {"device_id": battery, "mode": "idle", "until_cleared": True}
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(DOMAIN, "set_override", idle, blocking=True)
    await advance(20)
    assert hass.states.get(entity_id(hass, "sensor", "last_run_result")).state == "failed"  # type: ignore[union-attr]
    notes = list(async_get_persistent_notifications(hass).values())
    failed = [n for n in notes if n["title"] == "Steward Sim 10 SIM-TEST0001 Last run result"]
    assert len(failed) == 1
    assert "result is failed: cannot connect" in failed[0]["message"]
    # Three failed runs in a row are a repair issue too, which the blueprint reports.
    repairs = [n for n in notes if n["title"] == "Battery Steward needs attention"]
    assert len(notes) == 3
    assert "run_failures_" in repairs[1]["message"]
    # Retries that fail again do not notify again.
    await advance(120)
    assert len(async_get_persistent_notifications(hass)) == 3


async def test_weekday_on_peak_off_peak_reserve(
    hass: HomeAssistant, battery: str, simulator: SimulatedBattery, advance: Advance
) -> None:
    await use_blueprint(
        hass,
        "battery_steward/peak_offpeak_reserve.yaml",
        {
            "battery": [battery],
            "on_peak_start": "12:00:00",
            "on_peak_end": "14:00:00",
            "on_peak_reserve": 10,
            "off_peak_reserve": 45,
        },
    )
    assert simulator.read_register("reserve_pct") == 20
    await advance(31 * 60)  # Wednesday 12:00:30
    assert simulator.read_register("reserve_pct") == 10
    await advance(2 * 3600, 300)  # 14:00:30
    assert simulator.read_register("reserve_pct") == 45
    # Saturday is not chosen: nothing changes at noon.
    await advance((3 * 24 - 2) * 3600, 600)  # Saturday 12:00:30
    assert simulator.read_register("reserve_pct") == 45
