"""The Modbus TCP driver against the simulator over loopback."""

import asyncio

import pytest

from custom_components.battery_steward.device.driver import (
    DeviceConnectionError,
    DeviceResponseError,
    LimitError,
    UnsupportedDeviceError,
)
from custom_components.battery_steward.device.modbus import ModbusBatteryDriver
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.engine.state import Mode, Setpoints

from ..conftest import SERIAL


async def test_identify_and_read(simulator: SimulatedBattery) -> None:
    driver = ModbusBatteryDriver("127.0.0.1", simulator.port, 1)
    info = await driver.identify()
    assert info.serial == SERIAL
    assert info.limits.max_charge_w == 5000
    assert info.capacity_kwh == 10.0
    requests_before = simulator.request_count
    measurements = await driver.read()
    # The block planner reads all polled values in one request.
    assert simulator.request_count - requests_before == 1
    assert measurements.soc_pct == 50.0
    assert measurements.mode is Mode.AUTO
    assert measurements.enabled
    await driver.close()
    await driver.close()


async def test_write_only_fields_set(simulator: SimulatedBattery) -> None:
    driver = ModbusBatteryDriver("127.0.0.1", simulator.port, 1)
    await driver.write(Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=1500, reactive_var=-300))
    assert simulator.read_register("mode") == 2
    assert simulator.read_register("power_setpoint_w") == 1500
    assert simulator.read_register("reactive_setpoint_var") == -300
    assert simulator.read_register("reserve_pct") == 20
    await driver.set_enabled(False)
    assert simulator.read_register("enabled") == 0
    await driver.close()


@pytest.mark.parametrize(
    "setpoints",
    [Setpoints(reserve_pct=101), Setpoints(power_w=5001), Setpoints(reactive_var=-6001)],
)
async def test_limits_refused_before_sending(simulator: SimulatedBattery, setpoints: Setpoints) -> None:
    driver = ModbusBatteryDriver("127.0.0.1", simulator.port, 1)
    await driver.identify()
    writes = simulator.write_count
    with pytest.raises(LimitError):
        await driver.write(setpoints)
    assert simulator.write_count == writes
    await driver.close()


async def test_wrong_unit_is_a_response_error(simulator: SimulatedBattery) -> None:
    driver = ModbusBatteryDriver("127.0.0.1", simulator.port, 9)
    with pytest.raises(DeviceResponseError):
        await driver.identify()
    await driver.close()


async def test_foreign_device_unsupported(foreign_server: int) -> None:
    driver = ModbusBatteryDriver("127.0.0.1", foreign_server, 1)
    with pytest.raises(UnsupportedDeviceError):
        await driver.identify()
    await driver.close()


async def test_reconnects_after_server_restart(closed_port: int) -> None:
    battery = SimulatedBattery(SimConfig(serial=SERIAL, noise_w=0.0))
    await battery.start(host="127.0.0.1", port=closed_port)
    driver = ModbusBatteryDriver("127.0.0.1", closed_port, 1, timeout=0.5)
    await driver.read()
    await battery.stop()
    with pytest.raises(DeviceConnectionError):
        await driver.read()
    await battery.start(host="127.0.0.1", port=closed_port)
    try:
        assert (await driver.read()).soc_pct == 50.0
    finally:
        await driver.close()
        await battery.stop()


async def test_unreachable(closed_port: int) -> None:
    driver = ModbusBatteryDriver("127.0.0.1", closed_port, 1, timeout=0.5)
    with pytest.raises(DeviceConnectionError):
        await driver.identify()
    await driver.close()


async def _silent_server() -> tuple[asyncio.Server, int]:
    """A TCP server on loopback that accepts connections and never answers."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_cancelling_a_read_cancels_it() -> None:
    """pymodbus turns cancellation into an exception; the driver must let it through."""
    server, port = await _silent_server()
    driver = ModbusBatteryDriver("127.0.0.1", port, 1, timeout=30)
    task = asyncio.create_task(driver.read())
    for _ in range(100):
        await asyncio.sleep(0.01)
        if driver._client.connected:
            break
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert task.cancelled()
    await driver.close()
    server.close()
    await server.wait_closed()


async def test_unanswered_request_times_out() -> None:
    server, port = await _silent_server()
    driver = ModbusBatteryDriver("127.0.0.1", port, 1, timeout=0.1)
    with pytest.raises(DeviceConnectionError):
        await asyncio.wait_for(driver.read(), 5)
    await driver.close()
    server.close()
    await server.wait_closed()
