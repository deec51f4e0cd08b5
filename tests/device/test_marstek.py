"""Marstek Venus E profile against the simulator presenting the Marstek map, over Modbus TCP."""

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from custom_components.battery_steward.device.driver import (
    UnsupportedDeviceError,
    UnsupportedFieldError,
)
from custom_components.battery_steward.device.modbus import ModbusBatteryDriver
from custom_components.battery_steward.device.profiles import make_profile
from custom_components.battery_steward.device.profiles.marstek import (
    FORCE_DISCHARGE,
    RS485_OFF,
    RS485_ON,
    MarstekProfile,
    MarstekSettings,
    mode_of,
)
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.device.simulator.marstek import MarstekPresentation
from custom_components.battery_steward.device.simulator.presentation import make_presentation
from custom_components.battery_steward.engine.state import Mode, Setpoints

from .conftest import FakeClock

type Started = Callable[..., Awaitable[tuple[SimulatedBattery, MarstekPresentation, ModbusBatteryDriver]]]


@pytest.fixture
async def marstek(clock: FakeClock) -> AsyncIterator[Started]:
    started: list[tuple[SimulatedBattery, ModbusBatteryDriver]] = []

    async def factory(
        power_sign: str = "discharge_positive", driver_sign: str | None = None, layout: str = "v12"
    ) -> tuple[SimulatedBattery, MarstekPresentation, ModbusBatteryDriver]:
        presentation = MarstekPresentation(MarstekSettings(power_sign=power_sign, layout=layout))
        battery = SimulatedBattery(
            SimConfig(
                serial="MST-0001", model="Venus E", noise_w=0.0, max_charge_w=2500, max_discharge_w=2500
            ),
            clock=clock,
            presentation=presentation,
        )
        await battery.start(host="127.0.0.1", port=0)
        profile = make_profile("marstek", {"power_sign": driver_sign or power_sign, "layout": layout})
        driver = ModbusBatteryDriver("127.0.0.1", battery.port, 1, profile=profile)
        started.append((battery, driver))
        return battery, presentation, driver

    yield factory
    for battery, driver in started:
        await driver.close()
        await battery.stop()


@pytest.mark.parametrize(("layout", "firmware"), [("v12", "1.23"), ("v3", "123")])
async def test_identify_read_write(marstek: Started, clock: FakeClock, layout: str, firmware: str) -> None:
    battery, sim, driver = await marstek(layout=layout)
    info = await driver.identify()
    assert (info.manufacturer, info.model, info.serial) == ("Marstek", "Venus E", "MST-0001")
    assert info.firmware == firmware
    assert (info.limits.max_charge_w, info.limits.max_discharge_w) == (2500, 2500)
    assert info.capacity_kwh == 5.12
    caps = info.capabilities
    assert not caps.reserve
    assert not caps.reactive_power
    assert not caps.enable
    assert not caps.energy
    assert caps.temperature
    assert caps.voltage
    assert caps.active_power
    reading = await driver.read()
    assert reading.mode is Mode.AUTO  # RS485 control is off: the device's own work mode
    assert reading.soc_pct == 50
    assert reading.temperature_c == 25.0

    await driver.write(Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=1800))
    # The control sequence: RS485 control on, then power, then force mode.
    names = [w.name for w in battery.writes_log]
    assert names == ["rs485_control", "charge_power", "discharge_power", "force_mode"]
    assert (sim.rs485, sim.force_mode, sim.discharge_power) == (RS485_ON, FORCE_DISCHARGE, 1800)
    clock.advance(600)  # SoC is whole percent on this map
    reading = await driver.read()
    assert reading.mode is Mode.FORCE_DISCHARGE
    assert reading.power_setpoint_w == 1800
    assert reading.active_power_w == pytest.approx(1800, abs=1)
    assert reading.soc_pct < 50

    await driver.write(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-1000))
    clock.advance(60)
    reading = await driver.read()
    assert (reading.mode, reading.power_setpoint_w) == (Mode.FORCE_CHARGE, -1000)
    assert reading.active_power_w == pytest.approx(-1000, abs=1)

    await driver.write(Setpoints(mode=Mode.IDLE, power_w=0))
    assert (await driver.read()).mode is Mode.IDLE
    await driver.write(Setpoints(mode=Mode.AUTO))
    assert (await driver.read()).mode is Mode.AUTO
    assert sim.resets == 0  # never switched RS485 control off

    writes = battery.write_count
    with pytest.raises(UnsupportedFieldError):
        await driver.write(Setpoints(reserve_pct=30))
    await driver.write(Setpoints(reserve_pct=0, reactive_var=0))
    await driver.set_enabled(False)  # no enable register: nothing is sent
    assert battery.write_count == writes


async def test_power_sign_is_a_setting(marstek: Started, clock: FakeClock) -> None:
    """A device that reports charge as positive reads right once the setting says so."""
    _battery, _sim, driver = await marstek(power_sign="charge_positive")
    await driver.write(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000))
    clock.advance(60)
    assert (await driver.read()).active_power_w == pytest.approx(-2000, abs=1)
    _battery2, _sim2, wrong = await marstek(power_sign="charge_positive", driver_sign="discharge_positive")
    await wrong.write(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000))
    clock.advance(60)
    assert (await wrong.read()).active_power_w == pytest.approx(2000, abs=1)


async def test_rs485_off_resets(marstek: Started) -> None:
    battery, sim, driver = await marstek()
    await driver.write(Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=500))
    await driver.write_words(42000, [RS485_OFF])  # someone else turns control off
    assert sim.resets == 1
    assert (await driver.read()).mode is Mode.AUTO
    with pytest.raises(Exception, match="exception 3"):
        await driver.write_words(42010, [7])
    with pytest.raises(Exception, match="exception 2"):
        await driver.write_words(32104, [7])
    assert battery.refused_count == 2


async def test_not_a_marstek(simulator: SimulatedBattery) -> None:
    driver = ModbusBatteryDriver("127.0.0.1", simulator.port, 1, profile=MarstekProfile())
    with pytest.raises(UnsupportedDeviceError):
        await driver.identify()
    await driver.close()


def test_settings() -> None:
    assert MarstekSettings.from_mapping({}).sign == 1
    assert MarstekSettings.from_mapping({"power_sign": "charge_positive"}).sign == -1
    for bad in ({"power_sign": "up"}, {"layout": "v4"}, {"capacity_kwh": 0}):
        with pytest.raises(ValueError, match="invalid Marstek settings"):
            MarstekSettings.from_mapping(bad)
    assert mode_of(0, 0) is Mode.IDLE
    assert mode_of(0, 2) is Mode.AUTO
    with pytest.raises(ValueError, match="unknown profile"):
        make_profile("nope")
    with pytest.raises(ValueError, match="cannot present"):
        make_presentation("nope")
    assert make_presentation("steward").name == "steward"
    assert make_presentation("sunspec", {"base": 0}).name == "sunspec"


async def test_outside_changes_show_in_the_registers(marstek: Started) -> None:
    """Someone else (the vendor app) changes the battery: the driver reads what they did."""
    battery, sim, driver = await marstek()
    battery.set_control("mode", 2)  # force discharge
    battery.set_control("power_setpoint_w", 700)
    reading = await driver.read()
    assert (reading.mode, reading.power_setpoint_w) == (Mode.FORCE_DISCHARGE, 700)
    assert sim.rs485 == RS485_ON
    battery.set_control("mode", 3)
    battery.set_control("power_setpoint_w", -400)
    reading = await driver.read()
    assert (reading.mode, reading.power_setpoint_w) == (Mode.IDLE, -400)
    battery.set_control("mode", 0)
    assert (await driver.read()).mode is Mode.AUTO
    with pytest.raises(ValueError, match="steward map"):
        battery.read_register("soc_pct")
