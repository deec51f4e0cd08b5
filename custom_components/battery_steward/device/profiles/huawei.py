"""Huawei SUN2000 inverter with a LUNA2000 battery (`huawei`).

From wlcrs/huawei-solar-lib `registers.py` (addresses, types, gains), wlcrs/huawei_solar
`services.py` (the forcible charge/discharge sequence) and evcc's `huawei-sun2000-hybrid.yaml`
template (modes and watchdog).

Holding registers, FC3 reads, big-endian words; FC6 for 16-bit writes, FC16 for 32-bit ones (as
both sources write them). The inverter takes one Modbus client at a time (huawei_solar README:
"Modbus devices only support one connection at a time").

Modes: auto = no forcible command (47100 = 0) and both battery limits 47075/47077 at the rated
powers 37046/37048; idle = no forcible command and both limits 0 (evcc's "hold" sets the discharge
limit to 0); force charge/discharge = forcible command 1/2 for a period (47083, minutes, 47246 = 0
"time") at the power in 47247/47249. The period is the device's own watchdog: when it runs out the
battery goes back to its working mode. So the forced command is written with a short period
(2 min, as evcc does) and rewritten every 30 s while it should last (evcc: a watchdog of 60 s that
rewrites at half of it): if Home Assistant stops, the battery leaves the forced mode within 2 min.
"""

from collections.abc import Callable
import time
from typing import override

from ...engine.state import Measurements, Mode, Setpoints
from .. import registers as r
from ..blocks import Layout, plan_blocks
from ..driver import Capabilities, DeviceInfo, DeviceResponseError, UnsupportedDeviceError
from .base import Profile, RegisterIO, decoded, put, rated_limits, values_of

STOP, CHARGE, DISCHARGE = 0, 1, 2  # StorageForcibleChargeDischarge (register_values.py)
TARGET_TIME = 0  # StorageForcibleChargeDischargeTargetMode.TIME
LUNA2000 = 2  # StorageProductModel.HUAWEI_LUNA2000
PERIOD_MIN = 2  # evcc: "Minutes (watchdog*2 for redundancy reasons)"
KEEP_ALIVE_S = 30.0  # evcc: watchdog timeout 60 s, "re-write every timeout/2"

U16, U32, I32, STR = r.RegType.U16, r.RegType.U32, r.RegType.I32, r.RegType.STR


def _reg(
    name: str, address: int, kind: r.RegType, gain: int = 1, *, writable: bool = False, length: int = 0
) -> r.Register:
    # huawei-solar-lib divides by a gain; our scale multiplies.
    return r.Register(name=name, address=address, type=kind, scale=1 / gain, writable=writable, length=length)


# Identification.
MODEL = _reg("model", 30000, STR, length=15)  # MODEL_NAME
SERIAL = _reg("serial", 30015, STR, length=10)  # SERIAL_NUMBER
FIRMWARE = _reg("firmware", 30035, STR, length=15)  # FIRMWARE_VERSION
MAX_CHARGE = _reg("max_charge_w", 37046, U32)  # STORAGE_MAXIMUM_CHARGE_POWER, W
MAX_DISCHARGE = _reg("max_discharge_w", 37048, U32)  # STORAGE_MAXIMUM_DISCHARGE_POWER, W
CAPACITY = _reg("capacity_wh", 37758, U32)  # STORAGE_RATED_CAPACITY, Wh
PRODUCT_MODEL = _reg("product_model", 47000, U16)  # STORAGE_UNIT_1_PRODUCT_MODEL
# Measurements.
SOC = _reg("soc", 37760, U16, 10)  # STORAGE_STATE_OF_CAPACITY, %
STATUS = _reg("status", 37762, U16)  # STORAGE_RUNNING_STATUS
BUS_VOLTAGE = _reg("bus_voltage", 37763, U16, 10)  # STORAGE_BUS_VOLTAGE, V
BUS_CURRENT = _reg("bus_current", 37764, r.RegType.I16, 10)  # STORAGE_BUS_CURRENT, A (read to keep one block)
POWER = _reg("power", 37765, I32)  # STORAGE_CHARGE_DISCHARGE_POWER, + charging (evcc reads it "scale: -1")
# Controls.
LIMIT_CHARGE = _reg("limit_charge", 47075, U32, writable=True)  # STORAGE_MAXIMUM_CHARGING_POWER
LIMIT_DISCHARGE = _reg("limit_discharge", 47077, U32, writable=True)  # STORAGE_MAXIMUM_DISCHARGING_POWER
PERIOD = _reg("period", 47083, U16, writable=True)  # STORAGE_FORCED_CHARGING_AND_DISCHARGING_PERIOD, min
COMMAND = _reg("command", 47100, U16, writable=True)  # STORAGE_FORCIBLE_CHARGE_DISCHARGE_WRITE
BACKUP_SOC = _reg("backup_soc", 47102, U16, 10, writable=True)  # STORAGE_BACKUP_POWER_STATE_OF_CHARGE, %
TARGET_MODE = _reg("target_mode", 47246, U16, writable=True)  # ..._SETTING_MODE: 0 time, 1 SoC
CHARGE_POWER = _reg("charge_power", 47247, U32, writable=True)  # STORAGE_FORCIBLE_CHARGE_POWER, W
DISCHARGE_POWER = _reg("discharge_power", 47249, U32, writable=True)  # STORAGE_FORCIBLE_DISCHARGE_POWER, W

IDENTITY = (MODEL, SERIAL, FIRMWARE, MAX_CHARGE, MAX_DISCHARGE, CAPACITY, PRODUCT_MODEL)
POLLED = (
    SOC,
    STATUS,
    BUS_VOLTAGE,
    BUS_CURRENT,
    POWER,
    LIMIT_CHARGE,
    LIMIT_DISCHARGE,
    COMMAND,
    BACKUP_SOC,
    CHARGE_POWER,
    DISCHARGE_POWER,
)
MAX_BATCH = 64  # huawei-solar-lib const.py MAX_BATCHED_REGISTERS_COUNT


def _monotonic() -> float:
    """time.monotonic, looked up at each call (so a test's frozen clock is the profile's too)."""
    return time.monotonic()


class HuaweiProfile(Profile):
    """SUN2000 + LUNA2000 over the inverter's or the SDongle's Modbus TCP."""

    name = "huawei"
    capabilities = Capabilities(reactive_power=False, enable=False, temperature=False, energy=False)
    keep_alive_s = KEEP_ALIVE_S

    def __init__(self, clock: Callable[[], float] = _monotonic) -> None:
        """Plan the reads once; `clock` times the keep-alive (injectable for tests)."""
        self._clock = clock
        self._identity_blocks = plan_blocks(IDENTITY, max_count=MAX_BATCH)
        self._poll = Layout.of(plan_blocks(POLLED, max_count=MAX_BATCH), POLLED)
        self._info: DeviceInfo | None = None
        self._forced: int = STOP  # the forcible command last read or written
        self._commanded_at: float | None = None  # when it was last (re)written

    @override
    async def identify(self, io: RegisterIO) -> DeviceInfo:
        try:
            v = values_of(self._identity_blocks, await io.read_blocks(self._identity_blocks), IDENTITY)
        except DeviceResponseError as err:
            raise UnsupportedDeviceError(f"{io.label}: no Huawei identification registers ({err})") from err
        if not v["serial"] or int(v["product_model"]) != LUNA2000:
            raise UnsupportedDeviceError(f"{io.label}: no SUN2000 with a LUNA2000 battery")
        self._info = DeviceInfo(
            manufacturer="Huawei",
            model=f"{v['model']} + LUNA2000",
            serial=str(v["serial"]),
            firmware=str(v["firmware"]),
            capacity_kwh=float(v["capacity_wh"]) / 1000,
            limits=rated_limits(float(v["max_charge_w"]), float(v["max_discharge_w"])),
            capabilities=self.capabilities,
        )
        return self._info

    @override
    async def read(self, io: RegisterIO) -> Measurements:
        v = decoded(self._poll, await io.read_blocks(self._poll.blocks))
        self._forced = int(v["command"])
        limits = (float(v["limit_charge"]), float(v["limit_discharge"]))
        mode: Mode | None
        if self._forced in (CHARGE, DISCHARGE):
            mode = Mode.FORCE_CHARGE if self._forced == CHARGE else Mode.FORCE_DISCHARGE
        elif limits == (0.0, 0.0):
            mode = Mode.IDLE
        else:
            mode = Mode.AUTO if 0 not in limits else None  # one limit at 0: a mode we have no name for
        return Measurements(
            soc_pct=float(v["soc"]),
            active_power_w=-float(v["power"]),
            reactive_power_var=0.0,
            mode=mode,
            reserve_pct=float(v["backup_soc"]),
            power_setpoint_w=float(v["discharge_power"]) - float(v["charge_power"]),
            reactive_setpoint_var=0.0,
            enabled=True,
            voltage_v=float(v["bus_voltage"]),
        )

    @override
    async def keep_alive(self, io: RegisterIO) -> None:
        """Rewrite the forcible command every 30 s while the device reads it as active."""
        if self._forced not in (CHARGE, DISCHARGE):
            return
        if self._commanded_at is not None and self._clock() - self._commanded_at < self.keep_alive_s:
            return
        # evcc's watchdog rewrites only 47100, relying on each command to start a new period.
        await put(io, COMMAND, self._forced)
        self._commanded_at = self._clock()

    async def _command(self, io: RegisterIO, command: int) -> None:
        # huawei_solar services.py forcible_charge: power, period, setting mode, then the command.
        await put(io, PERIOD, PERIOD_MIN)
        await put(io, TARGET_MODE, TARGET_TIME)
        await put(io, COMMAND, command)
        self._forced = command
        self._commanded_at = self._clock()

    @override
    async def write(self, io: RegisterIO, setpoints: Setpoints, info: DeviceInfo) -> None:
        if setpoints.reserve_pct is not None:
            await put(io, BACKUP_SOC, setpoints.reserve_pct)
        if (power := setpoints.power_w) is not None:
            await put(io, CHARGE_POWER, round(-power) if power < 0 else 0)
            await put(io, DISCHARGE_POWER, round(power) if power > 0 else 0)
        mode = setpoints.mode
        if mode is None:
            return
        rated = (info.limits.max_charge_w, info.limits.max_discharge_w)
        if mode is Mode.IDLE:
            await put(io, COMMAND, STOP)
            self._forced = STOP
            await put(io, LIMIT_CHARGE, 0)
            await put(io, LIMIT_DISCHARGE, 0)
            return
        # Limits back to the rated powers: evcc's "normal" (above the rating the device refuses them).
        await put(io, LIMIT_CHARGE, rated[0])
        await put(io, LIMIT_DISCHARGE, rated[1])
        if mode is Mode.AUTO:
            await put(io, COMMAND, STOP)
            self._forced = STOP
        else:
            await self._command(io, CHARGE if mode is Mode.FORCE_CHARGE else DISCHARGE)
