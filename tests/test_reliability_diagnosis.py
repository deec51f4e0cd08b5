"""Reliability: a battery that acknowledges writes and never changes is `no_effect`, not a fight.

Issue 18, finding 6: such a battery was reported as "something else keeps changing reserve_pct"
while every journal record said `success`. The rule is in `engine/fight.py` (unit-tested in
`tests/engine/test_fight.py`); the controller hook that feeds it is not in yet (the controller
is being split into a package, issue 12), so this end-to-end test is expected to fail until it
is: see docs/reliability.md, "The right diagnosis".
"""

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.battery_steward.const import DOMAIN
from custom_components.battery_steward.device.simulator import SimulatedBattery, WriteRecord

from .conftest import modbus_data
from .helpers import device_id, move_to, setup_entry


@pytest.mark.xfail(strict=True, reason="needs the controller hook of docs/reliability.md (issue 12)")
async def test_a_battery_that_ignores_acknowledged_writes_is_no_effect(
    hass: HomeAssistant, simulator: SimulatedBattery, freezer: FrozenDateTimeFactory
) -> None:
    kept = float(simulator.read_register("reserve_pct"))

    def deaf(record: WriteRecord) -> None:
        """Accept the write (the Modbus answer is a success) and keep the old value."""
        if record.name == "reserve_pct":
            simulator.set_control("reserve_pct", kept)

    simulator.on_write = deaf
    entry = await setup_entry(
        hass, modbus_data(simulator.port), options={"fight_max_corrections": 2}, wait="background"
    )
    hold = {"device_id": device_id(hass, entry), "reserve_pct": 80, "until_cleared": True}
    await hass.services.async_call(DOMAIN, "set_override", hold, blocking=True)
    start = freezer()
    for step in range(1, 10):
        await move_to(hass, freezer, start + timedelta(seconds=20 * step))
    assert simulator.read_register("reserve_pct") == kept  # the battery never changed
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, f"fight_{entry.entry_id}_reserve_pct") is None
    assert issues.async_get_issue(DOMAIN, f"no_effect_{entry.entry_id}_reserve_pct") is not None
    await hass.config_entries.async_unload(entry.entry_id)
