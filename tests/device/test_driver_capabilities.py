"""What the driver can do for real devices: FC4 reads, float32 and 64-bit values in either word
order, a write address apart from the read address, a unit id per register, FC16-only writes."""

from typing import Any, override

from pymodbus.client import AsyncModbusTcpClient
import pytest

from custom_components.battery_steward.device import registers as r
from custom_components.battery_steward.device.blocks import Block, extract, plan_blocks
from custom_components.battery_steward.device.driver import Capabilities, DeviceInfo
from custom_components.battery_steward.device.modbus import ModbusBatteryDriver
from custom_components.battery_steward.device.profiles.base import Profile, RegisterIO, put, values_of
from custom_components.battery_steward.device.simulator import SimConfig, SimulatedBattery
from custom_components.battery_steward.device.simulator.physics import BatteryModel
from custom_components.battery_steward.device.simulator.table import TablePresentation
from custom_components.battery_steward.engine.state import Limits, Measurements, Mode, Setpoints

from .conftest import FakeClock

F32, U64, I64 = r.RegType.F32, r.RegType.U64, r.RegType.I64


@pytest.mark.parametrize(
    ("kind", "value", "big", "scale"),
    [
        (F32, 1.5, [0x3FC0, 0x0000], 1.0),
        (F32, -2000.0, [0xC4FA, 0x0000], 1.0),
        (F32, 52.5, [0x4252, 0x0000], 0.1),  # raw 525.0
        (U64, 0x0001_0002_0003_0004, [1, 2, 3, 4], 1.0),
        (I64, -2, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], 1.0),
        (I64, -12.34, [0xFFFF, 0xFFFF, 0xFFFF, 0xFB2E], 0.01),
    ],
)
def test_wide_values_in_either_word_order(
    kind: r.RegType, value: float, big: list[int], scale: float
) -> None:
    if kind is F32 and scale != 1:
        big = r.encode(r.Register(name="x", address=0, type=F32), value / scale)
    for swap, words in ((False, big), (True, big[::-1])):
        reg = r.Register(name="x", address=0, type=kind, scale=scale, swap_words=swap)
        assert reg.count == len(big)
        assert r.encode(reg, value) == words
        assert r.decode(reg, words) == pytest.approx(value)


def test_blocks_never_mix_kinds_or_units() -> None:
    regs = [
        r.Register(name="h", address=10, type=r.RegType.U16),
        r.Register(name="i", address=11, type=r.RegType.U16, input=True),
        r.Register(name="u", address=12, type=r.RegType.U16, unit=100),
        r.Register(name="h2", address=11, type=r.RegType.U16),
    ]
    blocks = plan_blocks(regs)
    assert blocks == [
        Block(start=10, count=2),
        Block(start=12, count=1, unit=100),
        Block(start=11, count=1, input=True),
    ]
    data = [[1, 2], [3], [4]]
    assert [extract(blocks, data, reg) for reg in regs] == [[1], [4], [3], [2]]


# A device of our own making: one measurement in an input register (float32, low word first), a
# 64-bit setpoint read at 20 but written at 30, all at unit 7.
UNIT = 7
SOC = r.Register(name="soc", address=10, type=F32, swap_words=True, input=True, unit=UNIT)
SETPOINT = r.Register(name="setpoint", address=20, type=I64, writable=True, write_address=30, unit=UNIT)
SETPOINT_WRITE = r.Register(name="setpoint_write", address=30, type=I64, writable=True, unit=UNIT)


class OddPresentation(TablePresentation):
    """Writes to 30 show at 20; 10 answers FC4 only."""

    name = "odd"

    def __init__(self) -> None:
        super().__init__((SOC, r.Register(name="setpoint", address=20, type=I64, unit=UNIT), SETPOINT_WRITE))

    @override
    def identity(self, config: SimConfig) -> dict[str, float | str]:
        return {}

    @override
    def measure(self, model: BatteryModel) -> dict[str, float]:
        return {"soc": model.soc_pct}

    @override
    def accepts(self, config: SimConfig, name: str, value: float) -> bool:
        return name == "setpoint_write"

    @override
    def written(self, name: str, value: float) -> None:
        super().written(name, value)
        self.values["setpoint"] = value

    @override
    def apply(self, model: BatteryModel) -> None:
        model.power_setpoint_w = round(float(self.values["setpoint"]))


class OddProfile(Profile):
    name = "odd"
    capabilities = Capabilities(modes=frozenset({Mode.AUTO}), reserve=False, reactive_power=False)
    fc16_only = True

    def __init__(self) -> None:
        self.blocks = plan_blocks((SOC, SETPOINT))

    @override
    def unit_for(self, address: int) -> int | None:
        return UNIT

    @override
    async def identify(self, io: RegisterIO) -> DeviceInfo:
        return DeviceInfo(
            manufacturer="Odd",
            model="Odd",
            serial="ODD-1",
            firmware="",
            capacity_kwh=10,
            limits=Limits(max_charge_w=5000, max_discharge_w=5000, max_apparent_va=5000),
            capabilities=self.capabilities,
        )

    @override
    async def read(self, io: RegisterIO) -> Measurements:
        v: dict[str, Any] = values_of(self.blocks, await io.read_blocks(self.blocks), (SOC, SETPOINT))
        return Measurements(
            soc_pct=v["soc"],
            active_power_w=0,
            reactive_power_var=0,
            mode=Mode.AUTO,
            reserve_pct=0,
            power_setpoint_w=v["setpoint"],
            reactive_setpoint_var=0,
            enabled=True,
        )

    @override
    async def write(self, io: RegisterIO, setpoints: Setpoints, info: DeviceInfo) -> None:
        if setpoints.power_w is not None:
            await put(io, SETPOINT, setpoints.power_w)


async def test_fc4_float32_write_address_unit_and_fc16_over_tcp(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    battery = SimulatedBattery(
        SimConfig(serial="ODD-1", soc_pct=42.5), unit=UNIT, clock=clock, presentation=OddPresentation()
    )
    await battery.start(host="127.0.0.1", port=0)
    driver = ModbusBatteryDriver("127.0.0.1", battery.port, 1, profile=OddProfile())
    client = driver._client
    calls: list[str] = []
    for method in ("write_register", "write_registers", "read_holding_registers", "read_input_registers"):
        original = getattr(client, method)

        def spy(*args: Any, _original: Any = original, _name: str = method, **kwargs: Any) -> Any:
            calls.append(f"{_name}@{kwargs['device_id']}")
            return _original(*args, **kwargs)

        monkeypatch.setattr(client, method, spy)
    try:
        await driver.identify()
        reading = await driver.read()
        assert reading.soc_pct == 42.5
        assert sorted(calls) == ["read_holding_registers@7", "read_input_registers@7"]
        calls.clear()
        await driver.write(Setpoints(power_w=-1234))
        assert calls == ["write_registers@7"]  # a 64-bit value: FC16 in any case
        assert battery.writes_log[-1].name == "setpoint_write"
        assert (await driver.read()).power_setpoint_w == -1234  # read back at 20
        assert battery.model.power_setpoint_w == -1234
    finally:
        await driver.close()
        await battery.stop()
    # The simulator answers FC4 at 10 and FC3 at 20, not the other way round.
    await battery.start(host="127.0.0.1", port=0)
    raw = AsyncModbusTcpClient("127.0.0.1", port=battery.port, timeout=3, retries=0)
    try:
        assert await raw.connect()
        assert (await raw.read_holding_registers(10, count=2, device_id=UNIT)).isError()
        assert (await raw.read_input_registers(20, count=4, device_id=UNIT)).isError()
        words = (await raw.read_input_registers(10, count=2, device_id=UNIT)).registers
        assert words == r.encode(SOC, 42.5) == [0x0000, 0x422A]
    finally:
        raw.close()
        await battery.stop()


async def test_an_fc16_only_profile_writes_one_register_with_fc16(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    battery = SimulatedBattery(SimConfig(serial="SIM-FC16"), clock=clock)
    await battery.start(host="127.0.0.1", port=0)
    driver = ModbusBatteryDriver("127.0.0.1", battery.port, 1)
    monkeypatch.setattr(type(driver.profile), "fc16_only", True)
    single = 0

    original = driver._client.write_register

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal single
        single += 1
        return await original(*args, **kwargs)

    monkeypatch.setattr(driver._client, "write_register", counted)
    try:
        await driver.write(Setpoints(reserve_pct=30))
        assert single == 0
        assert battery.write_counts == {"reserve_pct": 1}
        assert battery.model.reserve_pct == 30
    finally:
        await driver.close()
        await battery.stop()
