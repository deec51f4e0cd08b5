"""How the simulated battery presents itself: a register map over the same BatteryModel physics.

The server owns the Modbus socket and the register image; a presentation lays out the image,
renders the model into it and turns accepted writes into model changes. One per profile.
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, override

from pymodbus.constants import ExcCodes

from .. import registers as r
from .physics import BatteryModel, SimConfig


@dataclass(frozen=True, kw_only=True, slots=True)
class Region:
    """Registers a client may address: `count` from `address`; writable or read-only."""

    address: int
    count: int
    writable: bool = False


class Image:
    """The register image from `base`; the server swaps in pymodbus's live list once it listens."""

    def __init__(self, base: int, end: int) -> None:
        self.base = base
        self.words = [0] * (end - base)

    def put(self, address: int, words: list[int]) -> None:
        """Store words at an address."""
        self.words[address - self.base : address - self.base + len(words)] = words

    def get(self, address: int, count: int) -> list[int]:
        """The words at an address."""
        return self.words[address - self.base : address - self.base + count]


class Presentation(ABC):
    """One register map over a BatteryModel."""

    name: ClassVar[str]
    # Shortest time the device needs between two requests (s); a request sooner is refused busy.
    min_request_gap_s: float = 0.0

    def on_connect(self, model: BatteryModel) -> None:  # noqa: B027 - optional
        """A client opened a new TCP connection (some devices drop remote control then)."""

    @abstractmethod
    def regions(self, config: SimConfig) -> list[Region]:
        """Every addressable register; anything else answers illegal address."""

    def span(self, config: SimConfig) -> tuple[int, int]:
        """First address and one past the last."""
        regions = self.regions(config)
        return min(g.address for g in regions), max(g.address + g.count for g in regions)

    def read_allowed(self, function_code: int, address: int, count: int) -> bool:
        """Whether a read with this function code may address these registers: FC3 only by default."""
        del address, count
        return function_code == 3

    @abstractmethod
    def identify(self, config: SimConfig, image: Image) -> None:
        """Write the identification registers once."""

    @abstractmethod
    def render(self, model: BatteryModel, image: Image) -> None:
        """Write the model's measurements and controls."""

    @abstractmethod
    def write(
        self, model: BatteryModel, image: Image, address: int, values: list[int]
    ) -> ExcCodes | list[tuple[str, float]]:
        """Validate a write as a whole; apply it and return (name, value) per register, or refuse."""


def merged_words(image: Image, address: int, values: list[int]) -> list[int]:
    """The image as it would be after the write, for decoding values that span registers."""
    merged = list(image.words)
    merged[address - image.base : address - image.base + len(values)] = values
    return merged


def touched_registers(owner: Mapping[int, r.Register], address: int, count: int) -> list[r.Register] | None:
    """The writable registers a write of `count` words at `address` touches; None if any word is not one."""
    touched: list[r.Register] = []
    for addr in range(address, address + count):
        reg = owner.get(addr)
        if reg is None or not reg.writable:
            return None
        if reg not in touched:
            touched.append(reg)
    return touched


# The steward map -------------------------------------------------------------------------------

MEASUREMENTS: tuple[r.Register, ...] = tuple(reg for reg in r.POLLED if not reg.writable)
CONTROLS: tuple[r.Register, ...] = (*(reg for reg in r.POLLED if reg.writable), r.R_SITE_LOAD)
ALL_REGISTERS: tuple[r.Register, ...] = (*r.IDENTITY, *MEASUREMENTS, *CONTROLS)
REGISTERS_BY_NAME: dict[str, r.Register] = {reg.name: reg for reg in ALL_REGISTERS}
_OWNER: dict[int, r.Register] = {
    address: reg for reg in ALL_REGISTERS for address in range(reg.address, reg.address + reg.count)
}


def put_all(image: Image, regs: tuple[r.Register, ...], values: list[float | str]) -> None:
    """Encode values into their registers."""
    for reg, value in zip(regs, values, strict=True):
        image.put(reg.address, r.encode(reg, value))


class StewardPresentation(Presentation):
    """The Battery Steward register map of registers.py (docs/register-map.md)."""

    name = "steward"

    @override
    def regions(self, config: SimConfig) -> list[Region]:
        regions = [
            Region(address=reg.address, count=reg.count, writable=reg.writable) for reg in ALL_REGISTERS
        ]
        regions.extend(Region(address=gap.start, count=len(gap)) for gap in r.RESERVED)
        return regions

    @override
    def identify(self, config: SimConfig, image: Image) -> None:
        put_all(
            image,
            r.IDENTITY,
            [
                r.MAGIC,
                r.MAP_VERSION,
                config.serial,
                config.model,
                config.firmware,
                config.capacity_kwh,
                config.max_charge_w,
                config.max_discharge_w,
                config.max_apparent_va,
            ],
        )

    @override
    def render(self, model: BatteryModel, image: Image) -> None:
        m = model
        put_all(
            image,
            MEASUREMENTS,
            [
                min(max(m.soc_pct, 0.0), 100.0),
                m.active_power_w,
                m.reactive_power_var,
                m.voltage_v,
                m.temperature_c,
                m.charge_energy_kwh,
                m.discharge_energy_kwh,
                r.STATE_CODES[m.state],
            ],
        )
        put_all(
            image,
            CONTROLS,
            [
                m.mode,
                m.reserve_pct,
                m.power_setpoint_w,
                m.reactive_setpoint_var,
                int(m.enabled),
                m.site_load_w,
            ],
        )

    @override
    def write(
        self, model: BatteryModel, image: Image, address: int, values: list[int]
    ) -> ExcCodes | list[tuple[str, float]]:
        if (touched := touched_registers(_OWNER, address, len(values))) is None:
            return ExcCodes.ILLEGAL_ADDRESS
        merged = merged_words(image, address, values)
        decoded: list[tuple[r.Register, int]] = []
        for reg in touched:
            value = r.decode(reg, merged[reg.address - image.base : reg.address - image.base + reg.count])
            if not isinstance(value, int) or not valid(model.config, reg, value):
                return ExcCodes.ILLEGAL_VALUE
            decoded.append((reg, value))
        for reg, value in decoded:
            apply(model, reg, value)
        return [(reg.name, value) for reg, value in decoded]


def valid(cfg: SimConfig, reg: r.Register, value: int) -> bool:
    """Whether the steward map accepts `value` for a control register."""
    if reg is r.R_MODE:
        return value in r.MODE_CODES.values()
    if reg is r.R_RESERVE:
        return 0 <= value <= 100
    if reg is r.R_POWER_SETPOINT:
        return -cfg.max_charge_w <= value <= cfg.max_discharge_w
    if reg is r.R_REACTIVE_SETPOINT:
        return -cfg.max_apparent_va <= value <= cfg.max_apparent_va
    if reg is r.R_ENABLE:
        return value in {0, 1}
    return -(1 << 31) <= value < (1 << 31)  # site load: any int32


def apply(model: BatteryModel, reg: r.Register, value: int) -> None:
    """Set the model's control behind a steward register."""
    if reg is r.R_MODE:
        model.mode = value
    elif reg is r.R_RESERVE:
        model.reserve_pct = value
    elif reg is r.R_POWER_SETPOINT:
        model.power_setpoint_w = value
    elif reg is r.R_REACTIVE_SETPOINT:
        model.reactive_setpoint_var = value
    elif reg is r.R_ENABLE:
        model.enabled = bool(value)
    else:
        model.site_load_w = value


def make_presentation(profile: str, settings: dict[str, object] | None = None) -> Presentation:
    """The presentation for a profile name; ValueError for a profile the simulator cannot present."""
    # Imported here: the profile presentations import this module.
    from .marstek import MarstekPresentation  # noqa: PLC0415
    from .sunspec import SunSpecPresentation  # noqa: PLC0415

    settings = settings or {}
    if profile == "steward":
        return StewardPresentation()
    if profile == "sunspec":
        from ..profiles.sunspec import SunSpecSettings  # noqa: PLC0415

        return SunSpecPresentation(
            base=int(settings.get("base", 40000)),  # type: ignore[call-overload]
            battery=bool(settings.get("battery", True)),
            mppt=bool(settings.get("mppt", False)),
            manufacturer=str(settings.get("manufacturer", "Battery Steward")),
            settings=SunSpecSettings.from_mapping(settings),
        )
    if profile == "marstek":
        from ..profiles.marstek import MarstekSettings  # noqa: PLC0415

        return MarstekPresentation(MarstekSettings.from_mapping(settings))
    if profile in {"huawei", "sungrow", "victron"}:
        from .huawei import HuaweiPresentation  # noqa: PLC0415
        from .sungrow import SungrowPresentation  # noqa: PLC0415
        from .victron import VictronPresentation  # noqa: PLC0415

        vendors: dict[str, type[Presentation]] = {
            "huawei": HuaweiPresentation,
            "sungrow": SungrowPresentation,
            "victron": VictronPresentation,
        }
        return vendors[profile]()
    if profile == "custom":
        from ..profiles.custom import RegisterMap  # noqa: PLC0415
        from .custom import CustomPresentation  # noqa: PLC0415

        register_map = settings.get("map")
        if not isinstance(register_map, RegisterMap):
            raise ValueError("the custom profile needs a validated register map")
        return CustomPresentation(register_map)
    raise ValueError(f"the simulator cannot present profile {profile!r}")
