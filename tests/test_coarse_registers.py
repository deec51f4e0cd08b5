"""A custom map whose power register counts in 100 W steps: a day without write loops or false fights.

1234 W is stored as 1200 W. Compared at a finer grain than the register holds, every poll would
see a difference the device cannot remove, rewrite it, and raise "something else keeps changing
power_w". Comparisons use each register's resolution, so the writes are the planned changes.
"""

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
import time
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.battery_steward.const import CONF_PROFILE, CONF_REGISTER_MAP, DOMAIN
from custom_components.battery_steward.device.profiles.custom import parse
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.device.simulator.presentation import make_presentation
from custom_components.battery_steward.engine.journal import Result

from .conftest import SERIAL, modbus_data
from .helpers import controller, cron_item, freeze_at, let_sockets_settle, setup_entry
from .support.simclock import advance

COARSE_MAP = f"""
manufacturer: Acme
model: Coarse 5
serial: {SERIAL}
max_charge_w: 5000
max_discharge_w: 5000
modes: {{auto: 0, force_charge: 1, force_discharge: 2, idle: 3}}
registers:
  - {{field: soc_pct, address: 100, type: u16, scale: 0.1}}
  - {{field: active_power_w, address: 101, type: i16}}
  - {{field: mode, address: 200, type: u16, access: read_write}}
  - {{field: power_w, address: 201, type: i16, scale: 100, access: read_write}}
"""
PARIS = ZoneInfo("Europe/Paris")
DAY = datetime(2026, 3, 10, 0, 0, tzinfo=PARIS)
POLL_S = 60
# Powers that fall between two 100 W steps, each landing on a different step than the one before.
PLAN = [
    ("0 1 * * *", "force_discharge", 1234),
    ("0 4 * * *", "force_charge", -1777),
    ("0 7 * * *", "force_discharge", 2345),
    ("0 10 * * *", "force_charge", -949),
    ("0 13 * * *", "force_discharge", 1650),
    ("0 16 * * *", "force_charge", -2050),
    ("0 19 * * *", "force_discharge", 777),
    ("0 22 * * *", "force_charge", -1111),
]


@pytest.fixture
async def coarse(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> AsyncIterator[SimulatedBattery]:
    await freeze_at(hass, freezer, DAY)  # before the battery reads its clock
    battery = SimulatedBattery(
        SimConfig(serial=SERIAL, noise_w=0.0, capacity_kwh=100.0),
        presentation=make_presentation("custom", {"map": parse(COARSE_MAP)}),
        clock=time.time,  # the frozen clock: the battery's physics follow Home Assistant's time
    )
    await battery.start(host="127.0.0.1", port=0)
    yield battery
    await battery.stop()
    await let_sockets_settle()


async def test_a_day_on_a_coarse_power_register(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, coarse: SimulatedBattery
) -> None:
    items = [
        cron_item(f"step {i}", cron, mode=mode, power_w=power) for i, (cron, mode, power) in enumerate(PLAN)
    ]
    entry = await setup_entry(
        hass,
        modbus_data(coarse.port, **{CONF_PROFILE: "custom"}),
        options={"poll_interval": POLL_S, CONF_REGISTER_MAP: COARSE_MAP},
        items=items,
        wait="settle",
    )
    ctl = controller(entry)
    start = datetime.now(PARIS)
    planned = ctl.changes_between(start, start + timedelta(days=1))
    power_changes = [at for at, setpoints in planned if setpoints.power_w is not None]
    assert len(power_changes) == len(PLAN)
    first = coarse.write_counts.get("power_w", 0)  # the start-up run may write the 22:00 leftover
    seen: list[int] = []
    for _ in range(24 * 3600 // (POLL_S * 5)):
        await advance(hass, freezer, POLL_S * 5, step_s=POLL_S)
        seen.append(coarse.model.power_setpoint_w)
    assert coarse.write_counts.get("power_w", 0) - first == len(PLAN)
    # The battery got each planned power to its register's resolution, and kept it.
    assert {round(p, -2) for _, _, p in PLAN} <= set(seen)
    assert not [i for i in ir.async_get(hass).issues.values() if i.domain == DOMAIN]
    assert not ctl.fight.suspended
    assert all(record["result"] in {Result.SUCCESS, Result.SKIPPED} for record in ctl.journal.as_list())
    await hass.config_entries.async_unload(entry.entry_id)
