"""Register map of the Battery Steward simulator profile (`steward`), shared by driver and simulator.

All values are holding registers (FC3 read, FC6/FC16 write), big-endian words. The layout is
documented in docs/register-map.md; keep the two in step.
"""

from dataclasses import dataclass
from enum import StrEnum
import struct


class RegType(StrEnum):
    """How a value is encoded in registers."""

    U16 = "u16"
    I16 = "i16"
    U32 = "u32"
    I32 = "i32"
    STR = "str"
    F32 = "f32"  # IEEE 754 single precision
    U64 = "u64"
    I64 = "i64"


_WIDTH = {
    RegType.U16: 1,
    RegType.I16: 1,
    RegType.U32: 2,
    RegType.I32: 2,
    RegType.F32: 2,
    RegType.U64: 4,
    RegType.I64: 4,
}
_SIGNED = {RegType.I16: 16, RegType.I32: 32, RegType.I64: 64}


@dataclass(frozen=True, kw_only=True, slots=True)
class Register:
    """One value in the map: where it lives, how it is encoded and whether it can be written."""

    name: str
    address: int
    type: RegType
    scale: float = 1.0  # engineering value = raw * scale
    writable: bool = False
    length: int = 0  # registers, for strings only
    swap_words: bool = False  # 32/64-bit values with the low word first ("little" word order)
    input: bool = False  # an input register: read with FC4 (and never written)
    unit: int | None = None  # a Modbus unit id of its own (None: the device's unit id)
    write_address: int | None = None  # where writes go, when the device reads it elsewhere

    @property
    def target(self) -> int:
        """The address a write of this value goes to."""
        return self.address if self.write_address is None else self.write_address

    @property
    def count(self) -> int:
        """Number of 16-bit registers the value occupies."""
        return self.length if self.type is RegType.STR else _WIDTH[self.type]


def encode(reg: Register, value: float | str) -> list[int]:
    """Engineering value -> raw registers."""
    if reg.type is RegType.STR:
        data = str(value).encode("ascii")[: reg.count * 2].ljust(reg.count * 2, b"\0")
        return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    width = reg.count
    if reg.type is RegType.F32:
        raw = int.from_bytes(struct.pack(">f", float(value) / reg.scale), "big")
    else:
        raw = round(float(value) / reg.scale) & ((1 << (16 * width)) - 1)
    words = [(raw >> (16 * (width - 1 - i))) & 0xFFFF for i in range(width)]
    return words[::-1] if reg.swap_words and width > 1 else words


def decode(reg: Register, words: list[int]) -> float | str:
    """Raw registers -> engineering value."""
    if reg.type is RegType.STR:
        data = b"".join(w.to_bytes(2, "big") for w in words)
        return data.rstrip(b"\0").decode("ascii", errors="replace").strip()
    ordered = words[::-1] if reg.swap_words and len(words) > 1 else words
    raw = 0
    for word in ordered:
        raw = (raw << 16) | word
    if reg.type is RegType.F32:
        return float(struct.unpack(">f", raw.to_bytes(4, "big"))[0]) * reg.scale
    if (bits := _SIGNED.get(reg.type)) is not None and raw & (1 << (bits - 1)):
        raw -= 1 << bits
    value = raw * reg.scale
    return int(value) if reg.scale == 1 else value


MAGIC = 0x4253  # "BS"
MAP_VERSION = 1

# Identification (read once at set-up).
R_MAGIC = Register(name="magic", address=0, type=RegType.U16)
R_MAP_VERSION = Register(name="map_version", address=1, type=RegType.U16)
R_SERIAL = Register(name="serial", address=2, type=RegType.STR, length=8)
R_MODEL = Register(name="model", address=10, type=RegType.STR, length=8)
R_FIRMWARE = Register(name="firmware", address=18, type=RegType.STR, length=4)
R_CAPACITY = Register(name="capacity_kwh", address=22, type=RegType.U32, scale=0.001)
R_MAX_CHARGE = Register(name="max_charge_w", address=24, type=RegType.U32)
R_MAX_DISCHARGE = Register(name="max_discharge_w", address=26, type=RegType.U32)
R_MAX_APPARENT = Register(name="max_apparent_va", address=28, type=RegType.U32)

IDENTITY: tuple[Register, ...] = (
    R_MAGIC,
    R_MAP_VERSION,
    R_SERIAL,
    R_MODEL,
    R_FIRMWARE,
    R_CAPACITY,
    R_MAX_CHARGE,
    R_MAX_DISCHARGE,
    R_MAX_APPARENT,
)

# Measurements (read-only, polled).
R_SOC = Register(name="soc_pct", address=100, type=RegType.U16, scale=0.01)
R_ACTIVE_POWER = Register(name="active_power_w", address=101, type=RegType.I32)
R_REACTIVE_POWER = Register(name="reactive_power_var", address=103, type=RegType.I32)
R_VOLTAGE = Register(name="voltage_v", address=105, type=RegType.U16, scale=0.1)
R_TEMPERATURE = Register(name="temperature_c", address=106, type=RegType.I16, scale=0.1)
R_CHARGE_ENERGY = Register(name="charge_energy_kwh", address=107, type=RegType.U32, scale=0.001)
R_DISCHARGE_ENERGY = Register(name="discharge_energy_kwh", address=109, type=RegType.U32, scale=0.001)
R_STATE = Register(name="state", address=111, type=RegType.U16)

# Controls (read/write, polled too so drift is seen).
R_MODE = Register(name="mode", address=120, type=RegType.U16, writable=True)
R_RESERVE = Register(name="reserve_pct", address=121, type=RegType.U16, writable=True)
R_POWER_SETPOINT = Register(name="power_setpoint_w", address=122, type=RegType.I32, writable=True)
R_REACTIVE_SETPOINT = Register(name="reactive_setpoint_var", address=124, type=RegType.I32, writable=True)
R_ENABLE = Register(name="enabled", address=126, type=RegType.U16, writable=True)

# Simulation only: the site load that auto mode covers (W, + consumption, - surplus solar).
R_SITE_LOAD = Register(name="site_load_w", address=200, type=RegType.I32, writable=True)

POLLED: tuple[Register, ...] = (
    R_SOC,
    R_ACTIVE_POWER,
    R_REACTIVE_POWER,
    R_VOLTAGE,
    R_TEMPERATURE,
    R_CHARGE_ENERGY,
    R_DISCHARGE_ENERGY,
    R_STATE,
    R_MODE,
    R_RESERVE,
    R_POWER_SETPOINT,
    R_REACTIVE_SETPOINT,
    R_ENABLE,
)

# Reserved registers 112..119 read as 0, so measurements and controls are one block read.
RESERVED: tuple[range, ...] = (range(112, 120),)

# Mode register values.
MODE_CODES: dict[str, int] = {"auto": 0, "force_charge": 1, "force_discharge": 2, "idle": 3}

# State register values (what the battery is doing, derived from measured power).
STATE_CODES: dict[str, int] = {"idle": 0, "charging": 1, "discharging": 2, "disabled": 3}
