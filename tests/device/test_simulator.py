"""The simulated battery over real Modbus TCP on loopback, and its physics model on its own."""

import argparse
import asyncio
from dataclasses import replace
import logging
import math
import os
import signal
from typing import Any

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
import pytest

from custom_components.battery_steward.device import registers as r
from custom_components.battery_steward.device.simulator import (
    BatteryModel,
    SimConfig,
    SimulatedBattery,
    WriteRecord,
    cli,
)

from .cli import announced_port, spawn_simulator
from .conftest import BatteryFactory, ClientFactory, FakeClock

UNIT = 1
MODE = r.MODE_CODES
STATE = r.STATE_CODES


async def read(client: AsyncModbusTcpClient, reg: r.Register, unit: int = UNIT) -> float | str:
    """One register value over Modbus."""
    response = await client.read_holding_registers(reg.address, count=reg.count, device_id=unit)
    assert not response.isError(), response
    return r.decode(reg, response.registers)


async def write(client: AsyncModbusTcpClient, reg: r.Register, value: float, unit: int = UNIT) -> ModbusPDU:
    """One register value over Modbus: FC6 for one word, FC16 for two."""
    words = r.encode(reg, value)
    if len(words) == 1:
        return await client.write_register(reg.address, words[0], device_id=unit)
    return await client.write_registers(reg.address, words, device_id=unit)


def exception_code(response: ModbusPDU) -> int:
    assert response.isError(), response
    return int(response.exception_code)


# Register map over TCP --------------------------------------------------------------------------


async def test_identity(make_battery: BatteryFactory, connect: ClientFactory) -> None:
    battery = await make_battery(serial="SIM-ID000042", capacity_kwh=13.5, max_apparent_va=7000)
    client = await connect(battery)
    response = await client.read_holding_registers(0, count=30, device_id=UNIT)
    words = response.registers

    def value(reg: r.Register) -> float | str:
        return r.decode(reg, words[reg.address : reg.address + reg.count])

    assert value(r.R_MAGIC) == 0x4253
    assert value(r.R_MAP_VERSION) == 1
    assert value(r.R_SERIAL) == "SIM-ID000042"
    assert value(r.R_MODEL) == "Steward Sim 10"
    assert value(r.R_FIRMWARE) == "1.0.0"
    assert value(r.R_CAPACITY) == pytest.approx(13.5)
    assert value(r.R_MAX_CHARGE) == 5000
    assert value(r.R_MAX_DISCHARGE) == 5000
    assert value(r.R_MAX_APPARENT) == 7000
    assert battery.unit == UNIT
    assert battery.running


async def test_one_block_read_of_measurements_and_controls(
    make_battery: BatteryFactory, connect: ClientFactory
) -> None:
    battery = await make_battery(soc_pct=50.0, reserve_pct=15)
    client = await connect(battery)
    start = r.R_SOC.address
    count = r.R_ENABLE.address + 1 - start
    assert count == 27
    response = await client.read_holding_registers(start, count=count, device_id=UNIT)
    words = response.registers
    assert len(words) == count

    def value(reg: r.Register) -> float | str:
        return r.decode(reg, words[reg.address - start : reg.address - start + reg.count])

    assert value(r.R_SOC) == pytest.approx(50.0)
    assert value(r.R_ACTIVE_POWER) == 0
    assert value(r.R_VOLTAGE) == pytest.approx(49.0)
    assert value(r.R_TEMPERATURE) == pytest.approx(25.0)
    assert value(r.R_STATE) == STATE["idle"]
    assert value(r.R_MODE) == MODE["auto"]
    assert value(r.R_RESERVE) == 15
    assert value(r.R_ENABLE) == 1
    for gap in r.RESERVED:
        assert words[gap.start - start : gap.stop - start] == [0] * len(gap)
    assert battery.read_count == 1
    assert battery.request_count == 1
    # Addresses outside the map are a clean Modbus exception.
    assert exception_code(await client.read_holding_registers(50, count=2, device_id=UNIT)) == 2


async def test_force_charge_raises_soc(
    make_battery: BatteryFactory, connect: ClientFactory, clock: FakeClock
) -> None:
    battery = await make_battery(soc_pct=50.0)
    client = await connect(battery)
    await write(client, r.R_MODE, MODE["force_charge"])
    clock.advance(600)
    soc = await read(client, r.R_SOC)
    # 5 kW for 10 minutes is ~833 Wh of 10 kWh, less the first seconds of ramping.
    assert 58.0 < float(soc) < 58.4
    assert await read(client, r.R_ACTIVE_POWER) == -5000
    assert await read(client, r.R_STATE) == STATE["charging"]
    assert float(await read(client, r.R_CHARGE_ENERGY)) == pytest.approx((float(soc) - 50) / 10, abs=0.002)
    assert await read(client, r.R_DISCHARGE_ENERGY) == 0
    assert float(await read(client, r.R_VOLTAGE)) > 49.5


async def test_force_discharge_stops_at_reserve(
    make_battery: BatteryFactory, connect: ClientFactory, clock: FakeClock
) -> None:
    battery = await make_battery(soc_pct=22.0, reserve_pct=20)
    client = await connect(battery)
    await write(client, r.R_POWER_SETPOINT, 4000)
    await write(client, r.R_MODE, MODE["force_discharge"])
    clock.advance(60)
    assert 20.0 < float(await read(client, r.R_SOC)) < 22.0
    assert await read(client, r.R_ACTIVE_POWER) == 4000
    assert await read(client, r.R_STATE) == STATE["discharging"]
    assert float(await read(client, r.R_TEMPERATURE)) > 25.0
    clock.advance(600)
    assert await read(client, r.R_SOC) == pytest.approx(20.0)
    assert battery.model.soc_pct >= 20.0
    assert await read(client, r.R_ACTIVE_POWER) == 0
    assert await read(client, r.R_STATE) == STATE["idle"]
    assert float(await read(client, r.R_DISCHARGE_ENERGY)) == pytest.approx(0.2, abs=0.002)
    # Charging from the reserve is still allowed.
    await write(client, r.R_MODE, MODE["force_charge"])
    clock.advance(30)
    assert float(await read(client, r.R_SOC)) > 20.0


async def test_power_follows_setpoint_with_lag(
    make_battery: BatteryFactory, connect: ClientFactory, clock: FakeClock
) -> None:
    battery = await make_battery(tau_s=2.0)
    client = await connect(battery)
    await write(client, r.R_POWER_SETPOINT, 3000)
    await write(client, r.R_MODE, MODE["force_discharge"])
    clock.advance(2.0)  # one time constant
    assert await read(client, r.R_ACTIVE_POWER) == pytest.approx(3000 * (1 - math.exp(-1)), abs=1)
    clock.advance(8.0)  # five in all
    assert float(await read(client, r.R_ACTIVE_POWER)) == pytest.approx(3000, rel=0.01)
    # The full rate is asked for explicitly (the limit); 0 means 0 W.
    await write(client, r.R_POWER_SETPOINT, 5000)
    clock.advance(30)
    assert await read(client, r.R_ACTIVE_POWER) == 5000
    await write(client, r.R_POWER_SETPOINT, 0)
    clock.advance(30)
    assert await read(client, r.R_ACTIVE_POWER) == 0
    await write(client, r.R_MODE, MODE["idle"])
    clock.advance(30)
    assert await read(client, r.R_ACTIVE_POWER) == 0


async def test_auto_mode_covers_site_load(
    make_battery: BatteryFactory, connect: ClientFactory, clock: FakeClock
) -> None:
    battery = await make_battery()
    client = await connect(battery)
    assert await read(client, r.R_MODE) == MODE["auto"]
    for load, expected in ((1500, 1500), (-2000, -2000), (9000, 5000), (-9000, -5000)):
        await write(client, r.R_SITE_LOAD, load)
        clock.advance(30)
        assert await read(client, r.R_ACTIVE_POWER) == expected
        assert await read(client, r.R_SITE_LOAD) == load
    assert battery.model.site_load_w == -9000


async def test_apparent_power_limit_scales_reactive(
    make_battery: BatteryFactory, connect: ClientFactory, clock: FakeClock
) -> None:
    battery = await make_battery(max_apparent_va=6000)
    client = await connect(battery)
    await write(client, r.R_MODE, MODE["force_discharge"])
    await write(client, r.R_POWER_SETPOINT, 5000)
    await write(client, r.R_REACTIVE_SETPOINT, 6000)
    clock.advance(60)
    room = math.sqrt(6000**2 - 5000**2)
    assert await read(client, r.R_ACTIVE_POWER) == 5000
    assert await read(client, r.R_REACTIVE_POWER) == round(room)
    await write(client, r.R_REACTIVE_SETPOINT, -6000)
    clock.advance(60)
    assert await read(client, r.R_REACTIVE_POWER) == -round(room)
    # Within the limit, Q is the setpoint.
    await write(client, r.R_REACTIVE_SETPOINT, -1000)
    clock.advance(60)
    assert await read(client, r.R_REACTIVE_POWER) == -1000


async def test_disabled_means_zero(
    make_battery: BatteryFactory, connect: ClientFactory, clock: FakeClock
) -> None:
    battery = await make_battery()
    client = await connect(battery)
    await write(client, r.R_MODE, MODE["force_discharge"])
    await write(client, r.R_REACTIVE_SETPOINT, 800)
    clock.advance(30)
    assert await read(client, r.R_STATE) == STATE["discharging"]
    await write(client, r.R_ENABLE, 0)
    clock.advance(30)
    assert await read(client, r.R_ACTIVE_POWER) == 0
    assert await read(client, r.R_REACTIVE_POWER) == 0
    assert await read(client, r.R_STATE) == STATE["disabled"]
    assert battery.model.enabled is False


async def test_charge_stops_at_full(
    make_battery: BatteryFactory, connect: ClientFactory, clock: FakeClock
) -> None:
    battery = await make_battery(soc_pct=99.5)
    client = await connect(battery)
    await write(client, r.R_MODE, MODE["force_charge"])
    clock.advance(600)
    assert await read(client, r.R_SOC) == pytest.approx(100.0)
    assert await read(client, r.R_ACTIVE_POWER) == 0
    assert float(await read(client, r.R_CHARGE_ENERGY)) == pytest.approx(0.05, abs=0.002)
    assert battery.model.target_active_w() == 0


# Writes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reg", "value"),
    [
        (r.R_MODE, 4),
        (r.R_RESERVE, 101),
        (r.R_POWER_SETPOINT, 5001),
        (r.R_POWER_SETPOINT, -5001),
        (r.R_REACTIVE_SETPOINT, 6001),
        (r.R_REACTIVE_SETPOINT, -6001),
        (r.R_ENABLE, 2),
    ],
)
async def test_writes_outside_limits_refused(
    make_battery: BatteryFactory, connect: ClientFactory, reg: r.Register, value: int
) -> None:
    battery = await make_battery()
    client = await connect(battery)
    before = await read(client, reg)
    assert exception_code(await write(client, reg, value)) == ExcCodes.ILLEGAL_VALUE
    assert await read(client, reg) == before
    assert battery.write_count == 1
    assert battery.refused_count == 1
    assert battery.write_counts == {}
    assert battery.writes_log == []


async def test_partial_write_of_32_bit_value(make_battery: BatteryFactory, connect: ClientFactory) -> None:
    battery = await make_battery()
    client = await connect(battery)
    # The low word alone, combined with the existing high word (0).
    assert not (await client.write_register(r.R_POWER_SETPOINT.address + 1, 1200, device_id=UNIT)).isError()
    assert battery.model.power_setpoint_w == 1200
    # The high word alone would make 0xFFFF04B0 = -64336 W: refused, nothing changes.
    response = await client.write_register(r.R_POWER_SETPOINT.address, 0xFFFF, device_id=UNIT)
    assert exception_code(response) == ExcCodes.ILLEGAL_VALUE
    assert await read(client, r.R_POWER_SETPOINT) == 1200
    # A negative value in one FC16 request.
    assert not (await write(client, r.R_POWER_SETPOINT, -3000)).isError()
    assert battery.model.power_setpoint_w == -3000
    # One FC16 over several controls is validated as a whole.
    words = [MODE["idle"], 30, *r.encode(r.R_POWER_SETPOINT, 10_000)]
    assert exception_code(await client.write_registers(120, words, device_id=UNIT)) == ExcCodes.ILLEGAL_VALUE
    assert battery.model.mode == MODE["auto"]
    assert battery.model.reserve_pct == 20
    words = [MODE["idle"], 30, *r.encode(r.R_POWER_SETPOINT, 100)]
    assert not (await client.write_registers(120, words, device_id=UNIT)).isError()
    assert (battery.model.mode, battery.model.reserve_pct, battery.model.power_setpoint_w) == (3, 30, 100)


@pytest.mark.parametrize(
    ("address", "values"),
    [
        (r.R_SOC.address, [1]),  # measurement
        (r.R_SERIAL.address, [0x4142]),  # identity
        (112, [0]),  # reserved
        (50, [0]),  # gap
        (r.R_ENABLE.address, [1, 0]),  # runs past the last control into the gap
        (r.R_STATE.address, [0] * 10),  # measurement and reserved and controls
    ],
)
async def test_read_only_and_unmapped_writes_refused(
    make_battery: BatteryFactory, connect: ClientFactory, address: int, values: list[int]
) -> None:
    battery = await make_battery()
    client = await connect(battery)
    before = (await client.read_holding_registers(100, count=27, device_id=UNIT)).registers
    if len(values) == 1:
        response = await client.write_register(address, values[0], device_id=UNIT)
    else:
        response = await client.write_registers(address, values, device_id=UNIT)
    assert exception_code(response) == ExcCodes.ILLEGAL_ADDRESS
    assert (await client.read_holding_registers(100, count=27, device_id=UNIT)).registers == before
    assert battery.refused_count == 1


async def test_other_function_codes(make_battery: BatteryFactory, connect: ClientFactory) -> None:
    battery = await make_battery()
    client = await connect(battery)
    # Everything is a holding register: input registers and coils are not part of the map.
    response = await client.read_input_registers(100, count=1, device_id=UNIT)
    assert exception_code(response) == ExcCodes.ILLEGAL_FUNCTION
    assert exception_code(await client.write_coil(120, True, device_id=UNIT)) == ExcCodes.ILLEGAL_FUNCTION
    # FC23 writes and reads in one request.
    response = await client.readwrite_registers(
        read_address=120, read_count=2, write_address=121, values=[35], device_id=UNIT
    )
    assert not response.isError(), response
    assert response.registers == [MODE["auto"], 35]
    assert battery.model.reserve_pct == 35


async def test_wrong_unit_id_is_a_clean_exception(
    make_battery: BatteryFactory, connect: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    battery = await make_battery(unit=3)
    client = await connect(battery)
    with caplog.at_level(logging.DEBUG):
        response = await client.read_holding_registers(0, count=2, device_id=1)
        assert exception_code(response) == ExcCodes.GATEWAY_NO_RESPONSE
        response = await client.write_register(r.R_MODE.address, 1, device_id=7)
        assert exception_code(response) == ExcCodes.GATEWAY_NO_RESPONSE
        assert await read(client, r.R_MAGIC, unit=3) == r.MAGIC
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR or rec.exc_info]
    assert "Traceback" not in caplog.text
    assert battery.request_count == 1
    assert battery.model.mode == MODE["auto"]


async def test_outside_actor_changes_are_visible(
    make_battery: BatteryFactory, connect: ClientFactory
) -> None:
    battery = await make_battery()
    client = await connect(battery)
    battery.set_control("reserve_pct", 45)
    battery.set_control("enabled", 0)
    battery.set_control("power_setpoint_w", -2500)
    assert await read(client, r.R_RESERVE) == 45
    assert await read(client, r.R_ENABLE) == 0
    assert await read(client, r.R_POWER_SETPOINT) == -2500
    assert battery.read_register("reserve_pct") == 45
    assert battery.read_register("serial") == "SIM-T0001"
    assert battery.write_count == 0  # not a Modbus write
    with pytest.raises(ValueError, match="read-only"):
        battery.set_control("soc_pct", 10)
    with pytest.raises(ValueError, match="not a valid"):
        battery.set_control("reserve_pct", 101)
    with pytest.raises(ValueError, match="not a valid"):
        battery.set_control("mode", 1.5)
    with pytest.raises(KeyError):
        battery.set_control("nonsense", 1)


async def test_write_counters_and_log(
    make_battery: BatteryFactory, connect: ClientFactory, clock: FakeClock
) -> None:
    battery = await make_battery()
    seen: list[WriteRecord] = []
    battery.on_write = seen.append
    reads: list[int] = []
    battery.on_read = reads.append
    client = await connect(battery)
    await write(client, r.R_MODE, MODE["force_charge"])
    clock.advance(5)
    await write(client, r.R_POWER_SETPOINT, -1000)
    await write(client, r.R_MODE, MODE["idle"])
    await write(client, r.R_RESERVE, 500)  # refused
    await read(client, r.R_SOC)
    assert battery.write_count == 4
    assert battery.refused_count == 1
    assert battery.read_count == 1
    assert battery.request_count == 5
    assert battery.write_counts == {"mode": 2, "power_setpoint_w": 1}
    assert [(w.time, w.name, w.value) for w in battery.writes_log] == [
        (1000.0, "mode", 1),
        (1005.0, "power_setpoint_w", -1000),
        (1005.0, "mode", 3),
    ]
    assert seen == battery.writes_log
    assert reads == [r.R_SOC.address]


async def test_stuck_power(make_battery: BatteryFactory, connect: ClientFactory, clock: FakeClock) -> None:
    battery = await make_battery(soc_pct=60.0)
    client = await connect(battery)
    battery.model.stuck_power_w = 4000.0
    await write(client, r.R_MODE, MODE["idle"])
    await write(client, r.R_ENABLE, 0)
    clock.advance(60)
    assert await read(client, r.R_ACTIVE_POWER) == 4000
    assert float(await read(client, r.R_SOC)) < 60.0
    battery.model.stuck_power_w = None
    clock.advance(2.0)
    assert await read(client, r.R_ACTIVE_POWER) == pytest.approx(4000 * math.exp(-1), abs=1)
    clock.advance(60)
    assert await read(client, r.R_ACTIVE_POWER) == 0


# Lifecycle --------------------------------------------------------------------------------------


async def test_tick_moves_soc_without_requests() -> None:
    battery = SimulatedBattery(SimConfig(serial="SIM-TICK", soc_pct=50.0, tau_s=0.01), tick_s=0.02)
    async with battery as running:
        assert running is battery
        battery.set_control("mode", MODE["force_discharge"])
        soc = battery.model.soc_pct
        await asyncio.sleep(0.2)
        assert battery.model.soc_pct < soc
        assert battery.request_count == 0
    assert not battery.running
    await battery.stop()  # twice is fine


async def test_lifecycle_errors(make_battery: BatteryFactory) -> None:
    idle = SimulatedBattery(SimConfig(serial="SIM-IDLE"))
    with pytest.raises(RuntimeError, match="not started"):
        _ = idle.port
    assert idle.read_register("soc_pct") == pytest.approx(50.0)
    with pytest.raises(ValueError, match="unit"):
        SimulatedBattery(SimConfig(serial="SIM-BAD"), unit=0)
    battery = await make_battery()
    with pytest.raises(RuntimeError, match="already started"):
        await battery.start()
    async with battery:  # already running: not started again
        assert battery.running


def test_clock_going_backwards_is_ignored() -> None:
    now = [100.0]
    battery = SimulatedBattery(SimConfig(serial="SIM-CLK", noise_w=0.0), clock=lambda: now[0])
    battery.set_control("mode", MODE["force_charge"])
    now[0] = 50.0
    battery.sync()
    assert battery.model.active_power_w == 0
    now[0] = 110.0
    battery.sync()
    assert battery.model.active_power_w < -4000


# Physics on its own -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"serial": ""},
        {"serial": "X" * 17},
        {"model": "Ünïcode"},
        {"firmware": "1.0.0-rc.123"},
        {"capacity_kwh": 0},
        {"max_charge_w": 0},
        {"soc_pct": 101},
        {"reserve_pct": -1},
        {"tau_s": 0},
        {"noise_w": -1},
    ],
)
def test_config_validation(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must"):
        SimConfig(**{"serial": "SIM-1", **overrides})


def test_noise_is_small_and_seeded() -> None:
    def run(seed: int) -> list[float]:
        model = BatteryModel(SimConfig(serial="SIM-N", noise_w=5.0, seed=seed))
        model.mode = MODE["force_discharge"]
        model.reactive_setpoint_var = 500
        values = []
        for _ in range(20):
            model.advance(1.0)
            values.append(model.active_power_w)
        assert abs(model.reactive_power_var - 500) <= 5.0 + 1
        return values

    values = run(1)
    assert values == run(1)
    assert values != run(2)
    assert all(abs(v - 5000) <= 5.0 for v in values[-5:])
    assert len(set(values[-5:])) > 1
    # At rest the measurement is a clean zero.
    model = BatteryModel(SimConfig(serial="SIM-N", noise_w=5.0))
    model.advance(10)
    assert model.active_power_w == 0
    assert model.state == "idle"


def test_reserve_raised_above_soc_stops_discharge() -> None:
    model = BatteryModel(SimConfig(serial="SIM-R", noise_w=0.0, soc_pct=50.0))
    model.mode = MODE["force_discharge"]
    model.advance(20)
    assert model.active_power_w == pytest.approx(5000, abs=1)
    model.reserve_pct = 80
    assert model.target_active_w() == 0
    model.advance(30)
    assert model.active_power_w == pytest.approx(0, abs=0.01)
    assert 49.0 < model.soc_pct < 50.0
    assert model.state == "idle"


def test_empty_battery_with_zero_reserve() -> None:
    model = BatteryModel(SimConfig(serial="SIM-E", noise_w=0.0, soc_pct=0.5, reserve_pct=0))
    model.mode = MODE["force_discharge"]
    model.advance(600)
    assert model.soc_pct == 0.0
    assert model.active_power_w == 0
    assert model.target_active_w() == 0


def test_stuck_power_clamps_soc_to_physical_range() -> None:
    model = BatteryModel(SimConfig(serial="SIM-S", noise_w=0.0, soc_pct=1.0))
    model.stuck_power_w = 5000.0
    model.advance(600)
    assert model.soc_pct == 0.0
    assert model.active_power_w == 5000.0
    model.advance(0)
    assert model.soc_pct == 0.0


def test_temperature_and_voltage() -> None:
    model = BatteryModel(SimConfig(serial="SIM-T", noise_w=0.0, soc_pct=100.0, max_apparent_va=5000))
    assert model.voltage_v == pytest.approx(54.0)
    assert model.temperature_c == pytest.approx(25.0)
    model.mode = MODE["force_discharge"]
    model.advance(60)
    assert model.temperature_c == pytest.approx(30.0)
    assert model.state == "discharging"


def test_apparent_power_rating_bounds_active_power() -> None:
    """A power limit above the VA rating is cut to the rating, charging and discharging."""
    config = SimConfig(serial="SIM-VA", noise_w=0.0, soc_pct=50.0, max_discharge_w=8000, max_charge_w=8000)
    model = BatteryModel(replace(config, max_apparent_va=6000))
    model.mode = MODE["force_discharge"]
    assert model.target_active_w() == 6000.0
    model.mode = MODE["force_charge"]
    model.power_setpoint_w = -7000
    assert model.target_active_w() == -6000.0


# Command line -----------------------------------------------------------------------------------


async def test_cli_subprocess_answers(connect: ClientFactory) -> None:
    del connect
    process = await spawn_simulator("--serial", "SIM-CLI00001", "--unit", "2", "--verbose")
    assert process.stderr is not None
    client: AsyncModbusTcpClient | None = None
    try:
        port = await announced_port(process, r"Serving .* on 127\.0\.0\.1:(\d+) unit 2")
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=3, retries=0)
        assert await client.connect()
        assert await read(client, r.R_SERIAL, unit=2) == "SIM-CLI00001"
        assert await read(client, r.R_MAGIC, unit=2) == r.MAGIC
        assert not (await write(client, r.R_MODE, MODE["idle"], unit=2)).isError()
    finally:
        if client is not None:
            client.close()
        if process.returncode is None:
            process.terminate()
        async with asyncio.timeout(30):
            rest = (await process.stderr.read()).decode()
            assert await process.wait() == 0
    assert "write mode = 3" in rest
    assert "Stopped" in rest


async def test_cli_run_in_process(caplog: pytest.LogCaptureFixture) -> None:
    args = cli.build_parser().parse_args(
        ["--port", "0", "--serial", "SIM-INPROC", "--noise", "0", "--verbose"]
    )
    assert cli.config_from_args(args) == SimConfig(serial="SIM-INPROC", noise_w=0.0)
    stop = asyncio.Event()
    ready: asyncio.Future[SimulatedBattery] = asyncio.get_running_loop().create_future()
    with caplog.at_level(logging.DEBUG, logger="custom_components.battery_steward.device.simulator"):
        task = asyncio.create_task(cli.run(args, stop, ready=ready.set_result))
        async with asyncio.timeout(10):
            battery = await ready
        client = AsyncModbusTcpClient("127.0.0.1", port=battery.port, timeout=3, retries=0)
        assert await client.connect()
        assert not (await write(client, r.R_RESERVE, 25)).isError()
        client.close()
        stop.set()
        await task
    assert not battery.running
    assert f"Serving Steward Sim 10 serial SIM-INPROC on 127.0.0.1:{battery.port}" in caplog.text
    assert "write reserve_pct = 25" in caplog.text
    assert "Stopped" in caplog.text


async def test_cli_run_stops_on_sigterm() -> None:
    args = cli.build_parser().parse_args(["--port", "0"])
    ready: asyncio.Future[SimulatedBattery] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(cli.run(args, ready=ready.set_result))
    async with asyncio.timeout(10):
        battery = await ready
    os.kill(os.getpid(), signal.SIGTERM)
    async with asyncio.timeout(10):
        await task
    assert not battery.running


async def test_cli_run_already_stopped() -> None:
    stop = asyncio.Event()
    stop.set()
    await cli.run(cli.build_parser().parse_args(["--port", "0"]), stop)


def test_cli_main(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[argparse.Namespace] = []

    async def fake_run(args: argparse.Namespace, stop: asyncio.Event | None = None) -> None:
        del stop
        ran.append(args)

    pymodbus_logger = logging.getLogger("pymodbus")
    monkeypatch.setattr(pymodbus_logger, "level", pymodbus_logger.level)
    assert cli.main(["--capacity-kwh", "0"]) == 2  # invalid configuration
    monkeypatch.setattr(cli, "run", fake_run)
    assert cli.main(["--port", "0", "--verbose"]) == 0
    assert ran[0].port == 0
