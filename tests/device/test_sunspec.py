"""SunSpec profile against the simulator presenting SunSpec, over Modbus TCP; pysunspec2 interoperability."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import importlib.resources
import json
from typing import Any

import pytest
from sunspec2.modbus.client import SunSpecModbusClientDeviceTCP  # type: ignore[import-untyped]

from custom_components.battery_steward.device.driver import (
    DeviceResponseError,
    LimitError,
    UnsupportedDeviceError,
    UnsupportedFieldError,
)
from custom_components.battery_steward.device.modbus import ModbusBatteryDriver
from custom_components.battery_steward.device.profiles import sunspec as ss
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery, cli
from custom_components.battery_steward.device.simulator.sunspec import COMMON_LENGTH, SunSpecPresentation
from custom_components.battery_steward.engine.state import Mode, Setpoints

from .cli import announced_port, spawn_simulator
from .conftest import FakeClock
from .modes import ModeCase, hold, prove_modes

type Started = Callable[..., Awaitable[tuple[SimulatedBattery, ModbusBatteryDriver]]]


@pytest.fixture
async def sunspec(clock: FakeClock) -> AsyncIterator[Started]:
    """Start SunSpec simulators with a SunSpec driver each; stop and close them all."""
    started: list[tuple[SimulatedBattery, ModbusBatteryDriver]] = []

    async def factory(**presentation: Any) -> tuple[SimulatedBattery, ModbusBatteryDriver]:
        battery = SimulatedBattery(
            SimConfig(serial="SS-0001", noise_w=0.0),
            clock=clock,
            presentation=SunSpecPresentation(**presentation),
        )
        await battery.start(host="127.0.0.1", port=0)
        driver = ModbusBatteryDriver("127.0.0.1", battery.port, 1, profile=ss.SunSpecProfile())
        started.append((battery, driver))
        return battery, driver

    yield factory
    for battery, driver in started:
        await driver.close()
        await battery.stop()


def _model_json(model_id: int) -> dict[str, Any]:
    path = importlib.resources.files("sunspec2") / "models" / "json" / f"model_{model_id}.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("model_id", "points", "length"),
    [
        (1, ss.COMMON_POINTS, COMMON_LENGTH),
        (124, ss.STORAGE_POINTS, ss.STORAGE_LENGTH),
        (802, ss.BATTERY_POINTS, ss.BATTERY_LENGTH),
    ],
)
def test_offsets_match_the_sunspec_models(
    model_id: int, points: dict[str, tuple[int, str, int]], length: int
) -> None:
    """Our offsets, types, sizes and scale factors agree with the published JSON definitions."""
    group = _model_json(model_id)["group"]
    offset = 0
    published: dict[str, tuple[int, str, int, str | None]] = {}
    for point in group["points"]:
        published[point["name"]] = (offset, point["type"], point["size"], point.get("sf"))
        offset += point["size"]
    assert offset - 2 == length
    for name, (ours_offset, ours_type, ours_size) in points.items():
        assert published[name][:3] == (ours_offset, ours_type, ours_size), name
        if name in ss.SCALE_OF:
            assert published[name][3] == ss.SCALE_OF[name], name


async def test_identify_read_write(sunspec: Started, clock: FakeClock) -> None:
    battery, driver = await sunspec()
    info = await driver.identify()
    assert (info.manufacturer, info.model, info.serial, info.firmware) == (
        "Battery Steward",
        "Steward Sim 10",
        "SS-0001",
        "1.0.0",
    )
    assert info.capacity_kwh == 10.0
    assert (info.limits.max_charge_w, info.limits.max_discharge_w, info.limits.max_apparent_va) == (
        5000,
        5000,
        6000,
    )
    caps = info.capabilities
    assert caps.active_power
    assert caps.enable
    assert caps.reserve
    assert not caps.reactive_power
    assert not caps.temperature
    assert not caps.energy
    reading = await driver.read()
    assert (reading.soc_pct, reading.mode, reading.reserve_pct, reading.enabled) == (
        50.0,
        Mode.AUTO,
        20,
        True,
    )
    assert reading.voltage_v == 49.0
    assert reading.temperature_c is None

    await driver.write(Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=3000, reserve_pct=15))
    assert (battery.model.mode, battery.model.power_setpoint_w, battery.model.reserve_pct) == (2, 3000, 15)
    clock.advance(60)
    reading = await driver.read()
    assert reading.mode is Mode.FORCE_DISCHARGE
    assert reading.power_setpoint_w == 3000
    assert reading.active_power_w == pytest.approx(3000, abs=1)
    assert reading.soc_pct < 50

    await driver.write(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-1250))
    assert battery.model.power_setpoint_w == -1250
    await driver.set_enabled(False)
    assert not (await driver.read()).enabled
    await driver.set_enabled(True)
    assert (await driver.read()).enabled

    writes = battery.write_count
    with pytest.raises(UnsupportedFieldError):
        await driver.write(Setpoints(reactive_var=100))
    await driver.write(Setpoints(reactive_var=0))  # the neutral value is no write at all
    assert battery.write_count == writes


@pytest.mark.parametrize("base", [0, 50000])
async def test_discovery_at_other_bases(sunspec: Started, base: int) -> None:
    battery, driver = await sunspec(base=base)
    info = await driver.identify()
    assert info.serial == "SS-0001"
    assert driver.profile.base == base  # type: ignore[attr-defined]
    assert (await driver.read()).soc_pct == 50.0
    assert battery.read_count > 0


async def test_without_battery_model(sunspec: Started) -> None:
    """Model 802 is optional: SoC from ChaState, no active power, no enable."""
    battery, driver = await sunspec(battery=False)
    info = await driver.identify()
    assert not info.capabilities.active_power
    assert not info.capabilities.enable
    assert info.capacity_kwh == 0.0
    reading = await driver.read()
    assert reading.soc_pct == 50.0
    assert reading.active_power_w == 0.0
    writes = battery.write_count
    await driver.set_enabled(False)  # nothing to disable: a no-op
    assert battery.write_count == writes
    assert reading.enabled


async def test_unimplemented_values_are_unknown(sunspec: Started) -> None:
    battery, driver = await sunspec()
    await driver.identify()
    profile = driver.profile
    assert isinstance(profile, ss.SunSpecProfile)
    values = await profile._values(
        driver, ["WChaGra", "StorAval", "StorAval_SF", "InOutWRte_RvrtTms", "OutWRte"]
    )
    assert values["WChaGra"] is None  # uint16 0xFFFF
    assert values["StorAval"] is None  # its scale factor is 0x8000
    assert values["InOutWRte_RvrtTms"] is None  # uint16 0xFFFF
    assert values["OutWRte"] == 100.0  # a Fronius in auto: the discharge limit at 100 %, not active
    # SoC unknown everywhere: the reading is refused rather than guessed.
    image = battery._image
    image.put(battery.presentation.battery_at + 11, [0xFFFF])  # type: ignore[attr-defined]
    image.put(battery.presentation.storage + 22, [0x8000])  # type: ignore[attr-defined]
    battery._render = lambda: None  # type: ignore[method-assign]
    with pytest.raises(DeviceResponseError):
        await driver.read()


async def test_not_sunspec(simulator: SimulatedBattery) -> None:
    """The steward map has no 'SunS' anywhere: refused as unsupported."""
    driver = ModbusBatteryDriver("127.0.0.1", simulator.port, 1, profile=ss.SunSpecProfile())
    with pytest.raises(UnsupportedDeviceError):
        await driver.identify()
    await driver.close()


def test_unimplemented_values() -> None:
    assert ss.unimplemented("int16", 0x8000)
    assert ss.unimplemented("sunssf", 0x8000)
    assert ss.unimplemented("uint16", 0xFFFF)
    assert ss.unimplemented("enum16", 0xFFFF)
    assert not ss.unimplemented("uint16", 0x8000)
    assert not ss.unimplemented("int16", 0xFFFF)


async def test_pysunspec2_reads_what_we_read(sunspec: Started, clock: FakeClock) -> None:
    """An independent SunSpec client scans the simulator and agrees with our driver."""
    _battery, driver = await sunspec()
    info = await driver.identify()
    await driver.write(Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=2500, reserve_pct=30))
    clock.advance(60)
    ours = await driver.read()
    port = driver.port

    def scan() -> dict[str, Any]:
        device = SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=port, timeout=5)
        try:
            device.scan()
            common = device.models[1][0]
            storage = device.models[124][0]
            bank = device.models[802][0]
            return {
                "models": sorted(k for k in device.models if isinstance(k, int)),
                "base": device.base_addr,
                "Mn": common.Mn.value,
                "Md": common.Md.value,
                "SN": common.SN.value,
                "Vr": common.Vr.value,
                "WChaMax": storage.WChaMax.cvalue,
                "StorCtl_Mod": storage.StorCtl_Mod.value,
                "MinRsvPct": storage.MinRsvPct.cvalue,
                "ChaState": storage.ChaState.cvalue,
                "OutWRte": storage.OutWRte.cvalue,
                "InWRte": storage.InWRte.cvalue,
                "InBatV": storage.InBatV.cvalue,
                "WChaGra": storage.WChaGra.value,
                "SoC": bank.SoC.cvalue,
                "W": bank.W.cvalue,
                "V": bank.V.cvalue,
                "SetOp": bank.SetOp.value,
                "WHRtg": bank.WHRtg.cvalue,
                "A": bank.A.value,
            }
        finally:
            device.close()

    theirs = await asyncio.to_thread(scan)
    assert theirs["models"] == [1, 124, 802]
    assert theirs["base"] == 40000
    assert (theirs["Mn"], theirs["Md"], theirs["SN"], theirs["Vr"]) == (
        info.manufacturer,
        info.model,
        info.serial,
        info.firmware,
    )
    assert theirs["WChaMax"] == info.limits.max_charge_w
    assert theirs["WHRtg"] / 1000 == info.capacity_kwh
    # Force discharge: only the charge limit is active (bit 0), and it is negative.
    assert theirs["StorCtl_Mod"] == ss.STOR_CTL_CHARGE
    assert ours.mode is Mode.FORCE_DISCHARGE
    assert theirs["MinRsvPct"] == ours.reserve_pct
    assert theirs["ChaState"] == pytest.approx(ours.soc_pct)
    assert theirs["SoC"] == pytest.approx(ours.soc_pct)
    assert -theirs["InWRte"] * info.limits.max_charge_w / 100 == ours.power_setpoint_w
    assert theirs["OutWRte"] == 100
    assert theirs["W"] == ours.active_power_w
    assert theirs["V"] == ours.voltage_v
    assert theirs["SetOp"] == ss.SETOP_CONNECT
    # Points the simulator does not implement read as unknown for them too.
    assert theirs["WChaGra"] is None
    assert theirs["A"] is None


async def test_cli_presents_sunspec() -> None:
    """`python -m ...simulator --profile sunspec` answers as a SunSpec device."""
    process = await spawn_simulator("--profile", "sunspec", "--serial", "SS-CLI")
    try:
        port = await announced_port(process, r"on 127\.0\.0\.1:(\d+) unit 1, sunspec register map")
        driver = ModbusBatteryDriver("127.0.0.1", port, 1, profile=ss.SunSpecProfile())
        assert (await driver.identify()).serial == "SS-CLI"
        await driver.close()
    finally:
        process.terminate()
        async with asyncio.timeout(30):
            await process.wait()


def test_cli_profile_settings() -> None:
    args = cli.build_parser().parse_args(
        ["--profile", "sunspec", "--sunspec-base", "0", "--no-sunspec-battery"]
    )
    assert cli._profile_settings(args) == {"base": 0, "battery": False}
    args = cli.build_parser().parse_args(["--profile", "sunspec", "--sunspec-gen24"])
    assert cli._profile_settings(args) == {
        "base": 40000,
        "battery": False,
        "mppt": True,
        "manufacturer": "Fronius",
    }
    args = cli.build_parser().parse_args(["--profile", "marstek", "--marstek-power-sign", "charge_positive"])
    assert cli._profile_settings(args) == {"power_sign": "charge_positive"}
    assert cli._profile_settings(cli.build_parser().parse_args([])) == {}


# Every mode by its physical effect, and no write loop: model 124 as its sources describe it.

MODES: list[ModeCase] = [
    (Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000), 800, -2000),  # charges at 2 kW from the grid
    (Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=2000), 800, 2000),  # discharges at 2 kW
    (Setpoints(mode=Mode.IDLE, power_w=0), 800, 0),  # holds at 0 W whatever the load
    (Setpoints(mode=Mode.IDLE, power_w=1000), 800, 0),  # a power in idle moves nothing
    (Setpoints(mode=Mode.AUTO, power_w=0), 800, 800),  # the inverter's own self-consumption
    (Setpoints(mode=Mode.FORCE_CHARGE, power_w=-1234.5), 0, -1234.5),
]


@pytest.mark.parametrize(
    "presentation",
    [
        {},
        {"settings": ss.SunSpecSettings(power_sign="charge_positive")},
        {"battery": False, "mppt": True, "manufacturer": "Fronius"},  # a GEN24: model 160, no 802
    ],
    ids=["802", "802-charge-positive", "gen24"],
)
async def test_every_mode_physically_and_without_write_loops(
    sunspec: Started, clock: FakeClock, presentation: dict[str, Any]
) -> None:
    battery, driver = await sunspec(**presentation)
    if "settings" in presentation:
        driver.profile = ss.SunSpecProfile(presentation["settings"])
    info = await driver.identify()
    assert info.capabilities.active_power
    # Between every pair of modes: the command is written, then 10 polls write nothing.
    await prove_modes(driver, battery, clock, MODES)
    # The idle command zeroed both limits, not only StorCtl_Mod.
    await hold(driver, battery, clock, Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=1500), polls=0)
    await hold(driver, battery, clock, Setpoints(mode=Mode.IDLE), polls=0)
    values = await driver.profile._values(driver, ["OutWRte", "InWRte", "StorCtl_Mod"])  # type: ignore[attr-defined]
    assert values == {"OutWRte": 0.0, "InWRte": 0.0, "StorCtl_Mod": 3}
    writes = battery.write_count
    await driver.write(Setpoints(power_w=-700))  # a new power in idle: no register holds it
    assert battery.write_count == writes
    assert (await driver.read()).power_setpoint_w == -700
    clock.advance(60)
    battery.sync()
    assert battery.model.active_power_w == pytest.approx(0, abs=1)


async def test_the_old_reading_of_storctl_forces_nothing(sunspec: Started, clock: FakeClock) -> None:
    """StorCtl_Mod 1 activates the charge limit only: a negative OutWRte is then not active."""
    battery, driver = await sunspec()
    info = await driver.identify()
    battery.model.site_load_w = 700
    storage = battery.presentation.storage  # type: ignore[attr-defined]
    await driver.write_words(storage + 12, [(-4000) & 0xFFFF, 10000])  # OutWRte -40 %, InWRte 100 %
    await driver.write_words(storage + 5, [1])  # bit 0: CHARGE
    clock.advance(60)
    battery.sync()
    assert battery.model.active_power_w == pytest.approx(700, abs=1)  # self-consumption, nothing forced
    assert (await driver.read()).mode is None  # a charge limit of 100 %: no mode of ours
    assert info.limits.reserve_min_pct == 0


async def test_forced_charging_from_the_grid_needs_cha_gri_set(sunspec: Started, clock: FakeClock) -> None:
    """ChaGriSet PV: a forced charge takes only the PV surplus; GRID: the full rate."""
    battery, driver = await sunspec()
    await driver.identify()
    battery.model.site_load_w = -600  # 600 W of PV surplus
    await driver.write(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-2000))
    clock.advance(60)
    battery.sync()
    assert battery.model.active_power_w == pytest.approx(-2000, abs=1)
    storage = battery.presentation.storage  # type: ignore[attr-defined]
    await driver.write_words(storage + 17, [ss.CHA_GRI_PV])
    clock.advance(60)
    battery.sync()
    assert battery.model.active_power_w == pytest.approx(-600, abs=1)


async def test_fronius_refuses_a_reserve_under_5_percent(sunspec: Started) -> None:
    battery, driver = await sunspec(manufacturer="Fronius")
    info = await driver.identify()
    assert info.limits.reserve_min_pct == 5
    with pytest.raises(LimitError):
        await driver.write(Setpoints(reserve_pct=4))
    assert battery.write_count == 0  # refused before anything was sent
    with pytest.raises(DeviceResponseError, match="exception 3"):
        await driver.write_words(battery.presentation.storage + 7, [4])  # type: ignore[attr-defined]
    await driver.write(Setpoints(reserve_pct=5))
    assert battery.model.reserve_pct == 5


async def test_enabled_reads_the_bank_state_not_the_command(sunspec: Started) -> None:
    battery, driver = await sunspec()
    await driver.identify()
    battery.model.enabled = False  # the bank disconnected by itself; SetOp still says connect
    assert not (await driver.read()).enabled
    await driver.set_enabled(True)
    assert (await driver.read()).enabled


async def test_fresh_fronius_in_auto_reads_auto_and_someone_elses_limits(sunspec: Started) -> None:
    """Auto with OutWRte at 100 % reads as auto, not as full discharge; other limits read as no mode."""
    battery, driver = await sunspec()
    await driver.identify()
    reading = await driver.read()
    assert (reading.mode, reading.power_setpoint_w) == (Mode.AUTO, 0)
    storage = battery.presentation.storage  # type: ignore[attr-defined]
    await driver.write_words(storage + 12, [(-3000) & 0xFFFF, 10000])
    await driver.write_words(storage + 5, [2])  # someone else forces charging at 30 %
    reading = await driver.read()
    assert (reading.mode, reading.power_setpoint_w) == (Mode.FORCE_CHARGE, -1500)


def test_model_160_module_offsets_match_the_published_model() -> None:
    group = _model_json(160)["group"]
    fixed = sum(point["size"] for point in group["points"])
    module = group["groups"][0]
    offset = 0
    for point in module["points"]:
        if point["name"] == "DCW":
            break
        offset += point["size"]
    assert fixed == ss.MPPT_FIXED
    assert offset == ss.MPPT_MODULE_DCW
    assert sum(point["size"] for point in module["points"]) == ss.MPPT_MODULE_LENGTH
    names = [p["name"] for p in group["points"]]
    assert names.index("DCW_SF") == ss.MPPT_POINTS["DCW_SF"][0]
    assert names.index("N") + 1 == ss.MPPT_POINTS["N"][0]  # Evt is two registers wide


async def test_pysunspec2_reads_the_gen24_simulator(sunspec: Started, clock: FakeClock) -> None:
    """Without model 802 the battery's power is in model 160 modules 3 (charge) and 4 (discharge)."""
    battery, driver = await sunspec(battery=False, mppt=True, manufacturer="Fronius")
    await driver.identify()
    await driver.write(Setpoints(mode=Mode.FORCE_CHARGE, power_w=-1800))
    clock.advance(60)
    ours = await driver.read()
    port = driver.port

    def scan() -> tuple[list[int], float, float]:
        device = SunSpecModbusClientDeviceTCP(slave_id=1, ipaddr="127.0.0.1", ipport=port, timeout=5)
        try:
            device.scan()
            mppt = device.models[160][0]
            modules = mppt.groups["module"]
            return (
                sorted(k for k in device.models if isinstance(k, int)),
                modules[2].DCW.cvalue,
                modules[3].DCW.cvalue,
            )
        finally:
            device.close()

    models, charge, discharge = await asyncio.to_thread(scan)
    assert models == [1, 124, 160]
    assert (charge, discharge) == (pytest.approx(1800, abs=1), 0)
    assert ours.active_power_w == pytest.approx(discharge - charge, abs=1)
    assert battery.model.active_power_w == pytest.approx(-1800, abs=1)
