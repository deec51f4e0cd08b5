"""Profiles on the edges: broken devices and refused writes.

The end-to-end tests talk Modbus TCP to the simulator; here a register image in memory stands in
for devices the simulator cannot be made into (a chain with no end, empty serial numbers), and raw
pymodbus writes check the simulator's refusals.
"""

from typing import Any

from pymodbus.client import AsyncModbusTcpClient
import pytest

from custom_components.battery_steward.device.blocks import Block
from custom_components.battery_steward.device.driver import (
    DeviceError,
    DeviceResponseError,
    UnsupportedDeviceError,
    UnsupportedFieldError,
)
from custom_components.battery_steward.device.modbus import ModbusBatteryDriver
from custom_components.battery_steward.device.profiles import make_profile
from custom_components.battery_steward.device.profiles.custom import RegisterMapError, parse
from custom_components.battery_steward.device.profiles.marstek import MarstekProfile, MarstekSettings
from custom_components.battery_steward.device.profiles.steward import StewardProfile
from custom_components.battery_steward.device.profiles.sunspec import SUNS, SunSpecProfile
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.device.simulator.presentation import make_presentation
from custom_components.battery_steward.device.simulator.sunspec import SunSpecPresentation, _fit_sf
from custom_components.battery_steward.engine.state import Mode, Setpoints

from .conftest import FakeClock


class MemoryIO:
    """A register image in memory; unmapped addresses are refused like a Modbus exception 2."""

    label = "memory"

    def __init__(self, words: dict[int, int]) -> None:
        self.words = words

    async def read_blocks(self, blocks: list[Block]) -> list[list[int]]:
        out = []
        for block in blocks:
            if any(a not in self.words for a in range(block.start, block.end)):
                raise DeviceResponseError("illegal address", code=2)
            out.append([self.words[a] for a in range(block.start, block.end)])
        return out

    async def write_words(self, address: int, words: list[int]) -> None:
        for offset, word in enumerate(words):
            self.words[address + offset] = word


def _sunspec_image(**changes: int) -> dict[int, int]:
    presentation = SunSpecPresentation()
    battery = SimulatedBattery(SimConfig(serial="EDGE"), presentation=presentation)
    image = battery._image
    words = {image.base + i: w for i, w in enumerate(image.words)}
    for name, value in changes.items():
        words[presentation._address(name)] = value
    return words


async def test_sunspec_broken_devices() -> None:
    profile = SunSpecProfile()
    with pytest.raises(DeviceError, match="before identify"):
        await profile.read(MemoryIO({}))
    endless = {40000: SUNS[0], 40001: SUNS[1]} | {40002 + i: (7 if i % 2 == 0 else 0) for i in range(200)}
    with pytest.raises(UnsupportedDeviceError, match="no end"):
        await profile.identify(MemoryIO(endless))
    broken = {40000: SUNS[0], 40001: SUNS[1], 40002: 1, 40003: 66}
    with pytest.raises(UnsupportedDeviceError, match="breaks"):
        await profile.identify(MemoryIO(broken))
    common_only = {40000: SUNS[0], 40001: SUNS[1], 40002: 1, 40003: 0, 40004: 0xFFFF, 40005: 0}
    with pytest.raises(UnsupportedDeviceError, match="without model 124"):
        await profile.identify(MemoryIO(common_only))
    with pytest.raises(UnsupportedDeviceError, match="WChaMax"):
        await profile.identify(MemoryIO(_sunspec_image(WChaMax=0xFFFF)))
    io = MemoryIO(_sunspec_image(InOutWRte_SF=0x8000))
    info = await profile.identify(io)
    with pytest.raises(DeviceResponseError, match="scale factor"):
        await profile.write(io, Setpoints(mode=Mode.FORCE_DISCHARGE, power_w=100), info)


def test_fit_scale_factor() -> None:
    assert _fit_sf(10_000) == 0
    assert _fit_sf(100_000) == 1


async def test_marstek_broken_devices() -> None:
    profile = MarstekProfile()
    words = dict.fromkeys(range(31000, 31210), 0x4141) | {44002: 2500, 44003: 2500}
    for address in range(31200, 31210):
        words[address] = 0
    with pytest.raises(UnsupportedDeviceError, match="serial"):
        await profile.identify(MemoryIO(words))
    words.update(dict.fromkeys(range(31200, 31210), 0x4142))
    words[44003] = 0  # the user's discharge limit at 0 is a setting, not a broken device
    info = await profile.identify(MemoryIO(words))
    assert info.limits.max_discharge_w == 2500


async def test_marstek_v3_mac_in_raw_bytes_is_the_serial() -> None:
    """e_v3.yaml's 30304 holds the MAC address; as raw bytes it becomes AA:BB:... (the issue's note)."""
    profile = MarstekProfile(MarstekSettings(layout="v3"))
    words = dict.fromkeys(range(31000, 31010), 0x4141) | {30200: 148}
    mac = [0x001A, 0x2B3C, 0x4D5E, 0, 0, 0]
    words |= {30304 + i: w for i, w in enumerate(mac)}
    assert (await profile.identify(MemoryIO(words))).serial == "00:1A:2B:3C:4D:5E"
    words |= {30304 + i: w for i, w in enumerate([0x4142, 0x4344, 0x4546, 0, 0, 0])}
    assert (await profile.identify(MemoryIO(words))).serial == "ABCDEF"


async def test_steward_unknown_mode_code() -> None:
    io = MemoryIO(dict.fromkeys(range(100, 127), 0) | {120: 9})
    with pytest.raises(DeviceResponseError, match="unknown mode code 9"):
        await StewardProfile().read(io)


SMALL_MAP = """
max_charge_w: 1000
max_discharge_w: 1000
modes: {auto: 0, force_charge: 1}
registers:
  - {field: serial, address: 0, type: str, length: 2}
  - {field: soc_pct, address: 10, type: u16}
  - {field: mode, address: 11, type: u16, access: read_write}
  - {field: reactive_var, address: 12, type: i16, access: read_write}
"""


async def test_custom_broken_devices_and_unsupported_modes() -> None:
    register_map = parse(SMALL_MAP)
    profile = make_profile("custom", {"map": register_map})
    assert register_map.capabilities().modes == frozenset({Mode.AUTO, Mode.FORCE_CHARGE})
    with pytest.raises(UnsupportedDeviceError, match="serial number register is empty"):
        await profile.identify(MemoryIO({0: 0, 1: 0, 10: 50, 11: 0, 12: 0}))
    with pytest.raises(UnsupportedDeviceError, match="mapped registers refused"):
        await profile.identify(MemoryIO({0: 0x4142, 1: 0}))
    with pytest.raises(DeviceResponseError, match="does not name"):
        await profile.read(MemoryIO({10: 50, 11: 7, 12: 0}))
    without_serial_register = parse(
        SMALL_MAP.replace("  - {field: serial, address: 0, type: str, length: 2}\n", "") + "serial: S1\n"
    )
    info = await make_profile("custom", {"map": without_serial_register}).identify(
        MemoryIO({10: 50, 11: 0, 12: 0})
    )
    assert info.serial == "S1"
    assert info.capabilities.reactive_power


async def test_custom_map_refuses_a_mode_it_lacks(clock: FakeClock) -> None:
    register_map = parse(SMALL_MAP)
    battery = SimulatedBattery(
        SimConfig(serial="S2", noise_w=0.0),
        clock=clock,
        presentation=make_presentation("custom", {"map": register_map}),
    )
    await battery.start(host="127.0.0.1", port=0)
    driver = ModbusBatteryDriver(
        "127.0.0.1", battery.port, 1, profile=make_profile("custom", {"map": register_map})
    )
    try:
        assert (await driver.identify()).serial == "S2"
        with pytest.raises(UnsupportedFieldError):
            await driver.write(Setpoints(mode=Mode.IDLE))
        assert battery.write_count == 0
        await driver.write(Setpoints(reactive_var=-300))
        assert battery.model.reactive_setpoint_var == -300
        client = AsyncModbusTcpClient("127.0.0.1", port=battery.port, timeout=3, retries=0)
        assert await client.connect()
        assert (await client.write_register(10, 1, device_id=1)).exception_code == 2  # soc is read only
        assert (await client.write_register(11, 9, device_id=1)).exception_code == 3  # no such mode
        client.close()
    finally:
        await driver.close()
        await battery.stop()


def test_custom_odd_documents() -> None:
    with pytest.raises(RegisterMapError) as caught:
        parse("when: 2001-02-30\n")
    assert caught.value.code == "map_yaml"
    with pytest.raises(RegisterMapError) as caught:
        parse(SMALL_MAP.replace("type: str, length: 2}", "type: str, length: 2, scale: 2}"))
    assert caught.value.code == "map_bad_scale"


@pytest.mark.parametrize(
    ("name", "value", "code"),  # 0: accepted
    [
        ("StorCtl_Mod", 9, 3),
        ("OutWRte", 20000, 3),
        ("MinRsvPct", 101, 3),
        ("SocRsvMax", 2000, 3),
        ("SetOp", 5, 3),
        ("SetInvState", 9, 3),
        ("ChaState", 10, 2),
        ("InWRte", 0xFFFF - 99, 0),
        ("SoCRsvMin", 150, 0),
    ],
)
async def test_sunspec_simulator_refusals(clock: FakeClock, name: str, value: int, code: int) -> None:
    presentation = SunSpecPresentation()
    battery = SimulatedBattery(SimConfig(serial="EDGE2", noise_w=0.0), clock=clock, presentation=presentation)
    await battery.start(host="127.0.0.1", port=0)
    client = AsyncModbusTcpClient("127.0.0.1", port=battery.port, timeout=3, retries=0)
    try:
        assert await client.connect()
        response: Any = await client.write_register(presentation._address(name), value, device_id=1)
        assert response.exception_code == code
        if code == 0:
            read = await client.read_holding_registers(presentation._address(name), count=1, device_id=1)
            assert read.registers == [value]
    finally:
        client.close()
        await battery.stop()
