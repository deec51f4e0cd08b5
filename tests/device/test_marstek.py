"""Marstek Venus E profile against the simulator presenting the Marstek map, over Modbus TCP."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from custom_components.battery_steward.device.blocks import Block
from custom_components.battery_steward.device.driver import (
    DeviceResponseError,
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
from .modes import ModeCase, hold, prove_modes

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


async def test_hand_back_is_not_a_reset(marstek: Started) -> None:
    """0x55BB hands control back to the device; 41000 is what resets it (e_v12.yaml reset_device)."""
    battery, sim, driver = await marstek()
    await driver.write(Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=500))
    await driver.write_words(42000, [RS485_OFF])  # someone else hands control back
    assert sim.resets == 0
    assert (sim.rs485, sim.force_mode) == (RS485_OFF, FORCE_DISCHARGE)
    await driver.write_words(41000, [0x55AA])
    assert sim.resets == 1
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
    assert mode_of(RS485_ON, 0) is Mode.IDLE
    assert mode_of(RS485_OFF, 2) is Mode.AUTO
    with pytest.raises(ValueError, match="unknown profile"):
        make_profile("nope")
    with pytest.raises(ValueError, match="cannot present"):
        make_presentation("nope")
    assert make_presentation("steward").name == "steward"
    assert make_presentation("sunspec", {"base": 0}).name == "sunspec"


async def test_outside_changes_show_in_the_registers(marstek: Started) -> None:
    """Someone else (the vendor app) changes the battery: the driver reads what they did."""
    battery, sim, driver = await marstek()
    await driver.read()  # connected (a new connection drops RS485 control, so connect first)
    battery.set_control("mode", 2)  # force discharge
    battery.set_control("power_setpoint_w", 700)
    reading = await driver.read()
    assert (reading.mode, reading.power_setpoint_w) == (Mode.FORCE_DISCHARGE, 700)
    assert sim.rs485 == RS485_ON
    battery.set_control("mode", 3)
    reading = await driver.read()
    assert reading.mode is Mode.IDLE
    assert sim.rs485 == RS485_ON
    battery.set_control("mode", 0)
    assert (await driver.read()).mode is Mode.AUTO
    with pytest.raises(ValueError, match="steward map"):
        battery.read_register("soc_pct")


MODES: list[ModeCase] = [
    (Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000), 800, -2000),  # charges at 2 kW
    (Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=2000), 800, 2000),  # discharges at 2 kW
    (Setpoints(mode=Mode.IDLE, power_w=0), 800, 0),  # holds at 0 W whatever the load
    (Setpoints(mode=Mode.AUTO, power_w=0), 800, 800),  # the device's own anti-feed
    (Setpoints(mode=Mode.IDLE, power_w=1000), 800, 0),  # a power in idle moves nothing
    (Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=1250), -300, 1250),
]


@pytest.mark.parametrize("power_sign", ["discharge_positive", "charge_positive"])
async def test_every_mode_physically_and_without_write_loops(
    marstek: Started, clock: FakeClock, power_sign: str
) -> None:
    battery, sim, driver = await marstek(power_sign=power_sign)

    def check(desired: Setpoints) -> None:
        if desired.mode is Mode.IDLE:
            # Idle: RS485 control on, both powers 0, force mode stop, the work mode untouched.
            assert (sim.rs485, sim.charge_power, sim.discharge_power, sim.force_mode) == (RS485_ON, 0, 0, 0)
        if desired.mode is Mode.AUTO:
            assert sim.rs485 == RS485_OFF  # handed back

    await prove_modes(driver, battery, clock, MODES, check)
    assert sim.resets == 0
    assert "work_mode" not in {w.name for w in battery.writes_log if w.time > 0 and w.value == 0}


async def test_idle_does_not_touch_the_work_mode(marstek: Started, clock: FakeClock) -> None:
    """Writing 43000 would take RS485 control away (fonske#6): idle must not, or the battery runs itself."""
    battery, sim, driver = await marstek()
    battery.model.site_load_w = 900
    await driver.write(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-1500))
    battery.writes_log.clear()
    await driver.write(Setpoints(mode=Mode.IDLE))
    assert [w.name for w in battery.writes_log] == [
        "rs485_control",
        "charge_power",
        "discharge_power",
        "force_mode",
    ]
    clock.advance(60)
    assert (await driver.read()).active_power_w == pytest.approx(0, abs=1)
    await driver.write(Setpoints(mode=Mode.AUTO))
    assert [w.name for w in battery.writes_log][-2:] == ["work_mode", "rs485_control"]
    assert sim.rs485 == RS485_OFF
    clock.advance(60)
    assert (await driver.read()).active_power_w == pytest.approx(900, abs=1)


async def test_the_rs485_work_mode_coupling(marstek: Started) -> None:
    """Turning RS485 control on forces 43000 to 1; writing 43000 turns RS485 control off."""
    _battery, sim, driver = await marstek()
    await driver.write_words(43000, [0])  # manual
    await driver.write_words(42000, [RS485_ON])
    assert (await driver.read_blocks([Block(start=43000, count=1)])) == [[1]]
    await driver.write_words(43000, [0])
    assert sim.rs485 == RS485_OFF
    assert (await driver.read()).mode is Mode.AUTO


async def test_control_dropped_after_a_reconnect_is_taken_back(marstek: Started, clock: FakeClock) -> None:
    battery, sim, driver = await marstek()
    await hold(driver, battery, clock, Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000), polls=0)
    driver._client.close()  # the connection breaks; the next poll reconnects
    await driver.read()
    assert sim.drops == 1
    assert sim.rs485 == RS485_ON  # re-asserted at that poll, not at the next setpoint change
    assert driver.profile.reasserted == 1  # type: ignore[attr-defined]
    clock.advance(60)
    reading = await driver.read()
    assert (reading.mode, reading.power_setpoint_w) == (Mode.FORCE_CHARGE, -2000)
    assert battery.model.active_power_w == pytest.approx(-2000, abs=1)
    assert await hold(driver, battery, clock, Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000)) == 0
    # In auto nothing is re-asserted: control is the device's.
    await driver.write(Setpoints(mode=Mode.AUTO))
    driver._client.close()
    writes = battery.write_count
    await driver.read()
    assert battery.write_count == writes


async def test_user_power_limits_are_read_each_poll_and_zero_is_valid(
    marstek: Started, clock: FakeClock
) -> None:
    battery, _sim, driver = await marstek()
    await driver.write_words(44002, [0])  # the user blocks charging
    await driver.identify()
    await driver.write(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000))
    clock.advance(60)
    await driver.read()
    assert driver.profile.user_limits == (0, 2500)  # type: ignore[attr-defined]
    assert battery.model.active_power_w == pytest.approx(0, abs=1)
    await driver.write_words(44002, [1500])
    clock.advance(60)
    await driver.read()
    assert driver.profile.user_limits == (1500, 2500)  # type: ignore[attr-defined]
    battery.sync()
    assert battery.model.active_power_w == pytest.approx(-1500, abs=1)


async def test_v3_needs_150_ms_between_requests(marstek: Started, clock: FakeClock) -> None:
    """A v3 answers busy to a request that comes too soon; the driver paces itself for that layout."""
    battery, _sim, driver = await marstek(layout="v3")
    await driver.identify()
    await driver.write(Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=1000))
    await driver.read()
    assert battery.busy_count == 0
    hasty = ModbusBatteryDriver("127.0.0.1", battery.port, 1, profile=make_profile("marstek"))
    try:
        await asyncio.sleep(0.15)
        await hasty.read_blocks([Block(start=31000, count=1)])
        with pytest.raises(DeviceResponseError, match="exception 6"):
            await hasty.read_blocks([Block(start=31000, count=1)])
    finally:
        await hasty.close()
    assert battery.busy_count == 1
    paced = ModbusBatteryDriver(
        "127.0.0.1", battery.port, 1, profile=make_profile("marstek"), min_request_gap_s=0.15
    )
    try:
        await asyncio.sleep(0.15)
        await paced.read_blocks([Block(start=31000, count=1)])
        await paced.read_blocks([Block(start=31000, count=1)])
    finally:
        await paced.close()
    assert battery.busy_count == 1
