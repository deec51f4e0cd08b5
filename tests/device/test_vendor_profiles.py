"""Huawei, Sungrow and Victron profiles driving the simulator presenting each device as its public
source describes it, over Modbus TCP: every mode by its physical effect, and no write loop."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
import itertools

import pytest

from custom_components.battery_steward.device.driver import UnsupportedDeviceError
from custom_components.battery_steward.device.modbus import ModbusBatteryDriver
from custom_components.battery_steward.device.profiles import Profile, make_profile
from custom_components.battery_steward.device.profiles.huawei import HuaweiProfile
from custom_components.battery_steward.device.profiles.victron import VictronSettings
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery, cli
from custom_components.battery_steward.device.simulator.huawei import HuaweiPresentation
from custom_components.battery_steward.device.simulator.presentation import Presentation, make_presentation
from custom_components.battery_steward.device.simulator.table import TablePresentation
from custom_components.battery_steward.engine.reconcile import Tolerance, diff
from custom_components.battery_steward.engine.state import Measurements, Mode, Setpoints

from .conftest import FakeClock

POLL_S = 5.0


@dataclass(kw_only=True)
class Rig:
    """A simulated device, the driver talking to it and the clock both run on."""

    battery: SimulatedBattery
    driver: ModbusBatteryDriver
    clock: FakeClock

    async def poll(self) -> Measurements:
        """Move time by one poll interval and read, as the coordinator does."""
        self.clock.advance(POLL_S)
        return await self.driver.read()

    async def reconcile(self, desired: Setpoints, polls: int = 10) -> Measurements:
        """Poll and write what differs, as the controller does; returns the last reading."""
        info = self.driver.info
        assert info is not None
        reading = await self.driver.read()
        for _ in range(polls):
            actual = Setpoints(
                mode=reading.mode, reserve_pct=reading.reserve_pct, power_w=reading.power_setpoint_w
            )
            if (todo := diff(desired, actual, Tolerance.for_limits(info.limits))) != Setpoints():
                await self.driver.write(todo)
            reading = await self.poll()
        return reading


type RigFactory = Callable[..., Awaitable[Rig]]

SERIALS = {"huawei": "HV2150123456", "sungrow": "A2280123456", "victron": "c0619ab1c2d3"}


@pytest.fixture
async def rig(clock: FakeClock) -> AsyncIterator[RigFactory]:
    """Start a device presenting `name` and a driver with that profile; the entry's unit id is 1."""
    started: list[Rig] = []

    async def factory(name: str, **config: object) -> Rig:
        presentation: Presentation
        profile: Profile
        if name == "huawei":
            presentation, profile = HuaweiPresentation(clock=clock), HuaweiProfile(clock=clock)
        else:
            presentation, profile = make_presentation(name), make_profile(name)
        battery = SimulatedBattery(
            SimConfig(**{"serial": SERIALS[name], "noise_w": 0.0, "model": "SUN2000-10KTL", **config}),  # type: ignore[arg-type]
            clock=clock,
            presentation=presentation,
            # Victron: "Use unit-id 100 for the com.victronenergy.system data" (register list).
            unit=100 if name == "victron" else 1,
        )
        await battery.start(host="127.0.0.1", port=0)
        driver = ModbusBatteryDriver("127.0.0.1", battery.port, 1, profile=profile)
        made = Rig(battery=battery, driver=driver, clock=clock)
        started.append(made)
        await driver.identify()
        return made

    yield factory
    for made in started:
        await made.driver.close()
        await made.battery.stop()


VENDORS = ("huawei", "sungrow", "victron")


@pytest.mark.parametrize("name", VENDORS)
async def test_identify(rig: RigFactory, name: str) -> None:
    r = await rig(name)
    info = r.driver.info
    assert info is not None
    assert info.serial == SERIALS[name]
    assert info.limits.max_charge_w == 5000
    assert info.capabilities.reserve
    assert info.capabilities.power_setpoint
    assert not info.capabilities.reactive_power
    assert info.writable == {"mode", "reserve_pct", "power_w"}


# (mode, power setpoint, house load, battery power the device must show: + discharge)
MODES = [
    (Mode.FORCE_CHARGE, -2000.0, 0, -2000.0),  # charges at 2 kW
    (Mode.IDLE, 0.0, 800, 0.0),  # holds at 0 W, even with a house to feed
    (Mode.FORCE_DISCHARGE, 1500.0, 0, 1500.0),  # discharges at 1.5 kW
    (Mode.AUTO, 0.0, 800, 800.0),  # covers the house
    (Mode.FORCE_CHARGE, -1000.0, 0, -1000.0),  # and back into a forced mode at another power
]


@pytest.mark.parametrize("name", VENDORS)
async def test_every_mode_by_its_effect_and_a_stable_write_count(rig: RigFactory, name: str) -> None:
    r = await rig(name)
    for mode, power, load, expected in MODES:
        r.battery.set_control("site_load_w", load)
        desired = Setpoints(mode=mode, power_w=power, reserve_pct=20)
        reading = await r.reconcile(desired)
        assert reading.mode is mode
        assert reading.power_setpoint_w == power
        assert reading.active_power_w == pytest.approx(expected, abs=1)
        assert r.battery.model.active_power_w == pytest.approx(expected, abs=1)
        # Ten more polls with the same desired state write nothing but the keep-alive of a device
        # whose forced mode times out (Huawei: 47100 again, every 30 s, test_huawei_keep_alive).
        logged = len(r.battery.writes_log)
        await r.reconcile(desired)
        rewrites = r.battery.writes_log[logged:]
        if name == "huawei" and mode in {Mode.FORCE_CHARGE, Mode.FORCE_DISCHARGE}:
            assert {w.name for w in rewrites} == {"command"}
            assert [b.time - a.time for a, b in itertools.pairwise(rewrites)] == [30.0]
        else:
            assert rewrites == [], mode
        assert r.battery.refused_count == 0


@pytest.mark.parametrize("name", VENDORS)
async def test_reserve_is_the_devices_own(rig: RigFactory, name: str) -> None:
    r = await rig(name)
    await r.driver.write(Setpoints(reserve_pct=35))
    assert (await r.driver.read()).reserve_pct == 35
    assert r.battery.model.reserve_pct == 35


@pytest.mark.parametrize("name", VENDORS)
async def test_a_foreign_device_is_refused(rig: RigFactory, name: str) -> None:
    """The steward simulator has none of these registers."""
    r = await rig(name)
    steward = SimulatedBattery(SimConfig(serial="SIM-1"), unit=100 if name == "victron" else 1)
    await steward.start(host="127.0.0.1", port=0)
    driver = ModbusBatteryDriver("127.0.0.1", steward.port, 1, profile=make_profile(name))
    try:
        with pytest.raises(UnsupportedDeviceError):
            await driver.identify()
    finally:
        await driver.close()
        await steward.stop()
    assert r.driver.info is not None


async def test_huawei_keep_alive_on_time_and_the_devices_watchdog(rig: RigFactory) -> None:
    """The forcible command lasts its period (47083, 2 min); the profile rewrites 47100 every 30 s
    from the poll; when the polls stop, the device's own watchdog ends the forced mode."""
    r = await rig("huawei")
    presentation = r.battery.presentation
    assert isinstance(presentation, HuaweiPresentation)
    await r.driver.write(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000))
    commanded = r.clock.now
    log = r.battery.writes_log
    assert [(w.name, w.value) for w in log] == [
        ("charge_power", 2000),
        ("discharge_power", 0),
        ("limit_charge", 5000),
        ("limit_discharge", 5000),
        ("period", 2),
        ("target_mode", 0),
        ("command", 1),
    ]
    # Polls every 5 s for 5 minutes: one rewrite of 47100 every 30 s, nothing else.
    for _ in range(60):
        await r.poll()
    rewrites = [w for w in log if w.time > commanded]
    assert {(w.name, w.value) for w in rewrites} == {("command", 1)}
    assert [w.time - commanded for w in rewrites] == [30.0 * k for k in range(1, 11)]
    assert presentation.expired == 0
    assert r.battery.model.active_power_w == pytest.approx(-2000, abs=1)  # still charging at 2 kW
    # Home Assistant stops: no poll, no rewrite; two minutes after the last command the battery
    # leaves the forced mode by itself and goes back to its working mode.
    last = rewrites[-1].time
    r.clock.now = last + 119
    r.battery.sync()
    assert presentation.expired == 0
    r.clock.now = last + 120
    r.battery.set_control("site_load_w", 300)
    r.clock.advance(30)
    reading = await r.driver.read()
    assert presentation.expired == 1
    assert reading.mode is Mode.AUTO
    assert r.battery.model.active_power_w == pytest.approx(300, abs=1)


async def test_huawei_keeps_a_forced_mode_it_finds_after_a_restart_alive(
    rig: RigFactory, clock: FakeClock
) -> None:
    """A new profile (Home Assistant restarted) has never commanded: a forced mode it reads is
    rewritten at the first poll, then every 30 s."""
    r = await rig("huawei")
    await r.driver.write(Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=1000))
    restarted = ModbusBatteryDriver("127.0.0.1", r.battery.port, 1, profile=HuaweiProfile(clock=clock))
    try:
        await restarted.identify()
        logged = len(r.battery.writes_log)
        await restarted.read()
        assert [(w.name, w.value) for w in r.battery.writes_log[logged:]] == [("command", 2)]
        clock.advance(29)
        await restarted.read()
        assert len(r.battery.writes_log) == logged + 1
    finally:
        await restarted.close()


async def test_huawei_idle_and_auto_need_no_keep_alive(rig: RigFactory) -> None:
    r = await rig("huawei")
    await r.driver.write(Setpoints(mode=Mode.IDLE))
    logged = len(r.battery.writes_log)
    for _ in range(60):
        await r.poll()
    assert len(r.battery.writes_log) == logged


async def test_sungrow_reads_input_registers_with_fc4_and_low_word_first(
    rig: RigFactory, connect: Callable[[SimulatedBattery], Awaitable[object]]
) -> None:
    r = await rig("sungrow")
    await r.driver.write(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000))
    for _ in range(10):
        await r.poll()
    client = await connect(r.battery)
    # 5213 (0-based; "reg 5214-5215"): int32, "swap: word" - the low word first.
    reply = await client.read_input_registers(5213, count=2, device_id=1)  # type: ignore[attr-defined]
    assert reply.registers == [(-2000) & 0xFFFF, 0xFFFF]
    # An input register does not answer FC3, a holding register does not answer FC4.
    assert (await client.read_holding_registers(13022, count=1, device_id=1)).isError()  # type: ignore[attr-defined]
    assert (await client.read_input_registers(13049, count=1, device_id=1)).isError()  # type: ignore[attr-defined]
    holding = await client.read_holding_registers(13049, count=3, device_id=1)  # type: ignore[attr-defined]
    assert holding.registers == [2, 0xAA, 2000]  # forced mode, forced charge, 2000 W


async def test_victron_registers_live_at_unit_100_whatever_the_entrys_unit(
    rig: RigFactory, connect: Callable[[SimulatedBattery], Awaitable[object]]
) -> None:
    r = await rig("victron")
    assert r.driver.unit == 1  # the entry's own unit id: not the GX's system unit
    client = await connect(r.battery)
    assert (await client.read_holding_registers(843, count=1, device_id=1)).isError()  # type: ignore[attr-defined]
    assert (await client.read_holding_registers(843, count=1, device_id=100)).registers == [50]  # type: ignore[attr-defined]
    # evcc reads the same registers with FC4: the GX answers both.
    assert (await client.read_input_registers(842, count=2, device_id=100)).registers == [0, 50]  # type: ignore[attr-defined]
    await r.driver.write(Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=1200, reserve_pct=30))
    registers = await client.read_holding_registers(2700, count=1, device_id=100)  # type: ignore[attr-defined]
    assert registers.registers == [(-1200) & 0xFFFF]  # the grid setpoint: feed 1.2 kW in
    limits = await client.read_holding_registers(2704, count=2, device_id=100)  # type: ignore[attr-defined]
    assert limits.registers == [0xFFFF, 0]  # discharge unlimited (-1), charge current 0 A
    assert (await client.read_holding_registers(2901, count=1, device_id=100)).registers == [300]  # type: ignore[attr-defined]


async def test_victron_refuses_external_control(
    rig: RigFactory, connect: Callable[[SimulatedBattery], Awaitable[object]]
) -> None:
    """ESS mode 3 ignores the grid setpoint this profile drives."""
    r = await rig("victron")
    client = await connect(r.battery)
    await client.write_register(2902, 3, device_id=100)  # type: ignore[attr-defined]
    with pytest.raises(UnsupportedDeviceError, match="ESS mode 3"):
        await r.driver.identify()


@pytest.mark.parametrize(("name", "unit"), [("huawei", 1), ("sungrow", 1), ("victron", 100)])
async def test_the_simulator_command_line_presents_each_vendor(name: str, unit: int) -> None:
    args = cli.build_parser().parse_args(["--port", "0", "--profile", name, "--serial", SERIALS[name]])
    stop = asyncio.Event()
    ready: asyncio.Future[SimulatedBattery] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(cli.run(args, stop, ready=ready.set_result))
    async with asyncio.timeout(10):
        battery = await ready
    assert (battery.presentation.name, battery.unit) == (name, unit)
    driver = ModbusBatteryDriver("127.0.0.1", battery.port, 1, profile=make_profile(name))
    try:
        assert (await driver.identify()).serial == SERIALS[name]
    finally:
        await driver.close()
        stop.set()
        await task


@pytest.mark.parametrize(
    ("name", "register", "value", "refusal"),
    [
        ("huawei", "product_model", 0, "LUNA2000"),  # an inverter without a battery
        ("sungrow", "device_type", 0x2C00, "0x2C00"),  # not an SH hybrid
        ("victron", "serial", "", "serial"),
    ],
)
async def test_a_device_of_the_family_without_what_the_profile_needs_is_refused(
    rig: RigFactory, name: str, register: str, value: float | str, refusal: str
) -> None:
    r = await rig(name)
    presentation = r.battery.presentation
    assert isinstance(presentation, TablePresentation)
    presentation.values[register] = value
    r.battery.sync()
    with pytest.raises(UnsupportedDeviceError, match=refusal):
        await r.driver.identify()


async def test_the_simulator_refuses_what_the_device_would(
    rig: RigFactory, connect: Callable[[SimulatedBattery], Awaitable[object]]
) -> None:
    r = await rig("sungrow")
    client = await connect(r.battery)
    assert (await client.write_register(13022, 100, device_id=1)).isError()  # type: ignore[attr-defined]  # read-only
    assert (await client.write_register(13050, 0x12, device_id=1)).isError()  # type: ignore[attr-defined]  # no such command
    assert (await client.write_register(13099, 101, device_id=1)).isError()  # type: ignore[attr-defined]
    assert r.battery.refused_count == 3
    assert r.battery.writes_log == []


def test_victron_settings_must_be_possible() -> None:
    assert VictronSettings.from_mapping({"capacity_kwh": 5, "max_power_w": 3000}) == VictronSettings(
        capacity_kwh=5.0, max_power_w=3000
    )
    with pytest.raises(ValueError, match="invalid Victron settings"):
        VictronSettings.from_mapping({"max_power_w": 0})


def test_the_command_line_unit_wins() -> None:
    args = cli.build_parser().parse_args(["--profile", "victron", "--unit", "5"])
    assert cli.unit_from_args(args) == 5
    assert cli.unit_from_args(cli.build_parser().parse_args(["--profile", "victron"])) == 100
    assert cli.unit_from_args(cli.build_parser().parse_args([])) == 1
