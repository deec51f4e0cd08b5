"""A reconciler in miniature for device tests: what the controller would write at each poll."""

from collections.abc import Callable

import pytest

from custom_components.battery_steward.device.modbus import ModbusBatteryDriver
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.engine.reconcile import Tolerance, diff, restrict
from custom_components.battery_steward.engine.state import Setpoints

from .conftest import FakeClock


async def hold(
    driver: ModbusBatteryDriver,
    battery: SimulatedBattery,
    clock: FakeClock,
    desired: Setpoints,
    *,
    polls: int = 10,
    interval_s: float = 30.0,
) -> int:
    """Command `desired`, poll `polls` times writing only what differs; return the later writes.

    The first pass writes the command; every later poll should find the device in step, so a
    device that misreads our own writes shows up as a write loop here.
    """
    info = driver.info or await driver.identify()
    tolerance = Tolerance.for_limits(info.limits)

    async def reconcile() -> None:
        actual = (await driver.read()).actual_setpoints()
        todo = restrict(diff(desired, actual, tolerance), info.writable)
        if todo.set_fields():
            await driver.write(todo)

    await reconcile()
    settled = battery.write_count
    for _ in range(polls):
        clock.advance(interval_s)
        await reconcile()
    return battery.write_count - settled


# (desired, site load W, battery power W the simulator must show after the command)
type ModeCase = tuple[Setpoints, int, float]


async def prove_modes(
    driver: ModbusBatteryDriver,
    battery: SimulatedBattery,
    clock: FakeClock,
    cases: list[ModeCase],
    check: Callable[[Setpoints], None] = lambda _desired: None,
) -> None:
    """Each case in turn: the battery does it physically, the driver reads it back, 10 polls write nothing."""
    for desired, load, expected in cases:
        battery.model.site_load_w = load
        assert await hold(driver, battery, clock, desired) == 0, desired
        assert battery.model.active_power_w == pytest.approx(expected, abs=2), desired
        reading = await driver.read()
        assert reading.mode is desired.mode
        assert reading.active_power_w == pytest.approx(expected, abs=2)
        check(desired)
