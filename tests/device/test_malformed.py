"""Short, lying and foreign replies over TCP: a DeviceError each time, never a traceback per poll."""

from collections.abc import AsyncIterator
import logging

import pytest

from custom_components.battery_steward.device.driver import DeviceError, MalformedReplyError
from custom_components.battery_steward.device.modbus import ModbusBatteryDriver
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery

from ..support.fault_proxy import MALFORMED_KINDS, Fault, FaultKind, FaultProxy


@pytest.fixture
async def proxied() -> AsyncIterator[tuple[SimulatedBattery, FaultProxy, ModbusBatteryDriver]]:
    battery = SimulatedBattery(SimConfig(serial="MAL-0001", noise_w=0.0))
    await battery.start(host="127.0.0.1", port=0)
    async with FaultProxy(battery.port) as proxy:
        driver = ModbusBatteryDriver("127.0.0.1", proxy.port, 1, timeout=2)
        yield battery, proxy, driver
        await driver.close()
    await battery.stop()


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
async def test_malformed_replies_are_device_errors(
    proxied: tuple[SimulatedBattery, FaultProxy, ModbusBatteryDriver],
    caplog: pytest.LogCaptureFixture,
    kind: FaultKind,
) -> None:
    _battery, proxy, driver = proxied
    await driver.identify()
    caplog.set_level(logging.DEBUG)
    proxy.set_fault(Fault(kind=kind))
    for _ in range(3):  # three polls
        with pytest.raises(MalformedReplyError) as caught:
            await driver.read()
        assert isinstance(caught.value, DeviceError)
    assert proxy.stats.faulted[kind] == 3
    # No traceback, no asyncio "Fatal error", nothing above a warning from anyone.
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text
    proxy.clear()
    assert (await driver.read()).soc_pct == 50.0  # the next good reply reads as before
