"""The Battery Steward register map (`steward`): the built-in simulator's own layout.

Documented in docs/register-map.md. Every capability is present.
"""

from typing import Any, override

from ...engine.state import Limits, Measurements, Mode, Setpoints
from .. import registers as r
from ..blocks import Layout, extract, plan_blocks
from ..driver import FULL_CAPABILITIES, DeviceInfo, DeviceResponseError, UnsupportedDeviceError
from .base import Profile, RegisterIO, decoded

_MODE_BY_CODE = {code: Mode(name) for name, code in r.MODE_CODES.items()}
_FIELD_REGISTERS: dict[str, r.Register] = {
    "mode": r.R_MODE,
    "reserve_pct": r.R_RESERVE,
    "power_w": r.R_POWER_SETPOINT,
    "reactive_var": r.R_REACTIVE_SETPOINT,
}


class StewardProfile(Profile):
    """Identity block at 0, measurements and controls in one block at 100..126."""

    name = "steward"
    capabilities = FULL_CAPABILITIES

    def __init__(self) -> None:
        """Plan the reads once."""
        self.identity_blocks = plan_blocks(r.IDENTITY)
        # The map reserves 112..119 as readable zeros, so measurements and controls are one read.
        self.poll = Layout.of(plan_blocks(r.POLLED, max_gap=8), r.POLLED)

    @override
    async def identify(self, io: RegisterIO) -> DeviceInfo:
        data = await io.read_blocks(self.identity_blocks)

        def value(reg: r.Register) -> Any:
            return r.decode(reg, extract(self.identity_blocks, data, reg))

        if value(r.R_MAGIC) != r.MAGIC or value(r.R_MAP_VERSION) != r.MAP_VERSION:
            raise UnsupportedDeviceError(f"{io.label} is not a Battery Steward register map")
        return DeviceInfo(
            manufacturer="Battery Steward",
            model=str(value(r.R_MODEL)),
            serial=str(value(r.R_SERIAL)),
            firmware=str(value(r.R_FIRMWARE)),
            capacity_kwh=float(value(r.R_CAPACITY)),
            limits=Limits(
                max_charge_w=float(value(r.R_MAX_CHARGE)),
                max_discharge_w=float(value(r.R_MAX_DISCHARGE)),
                max_apparent_va=float(value(r.R_MAX_APPARENT)),
            ),
            capabilities=self.capabilities,
        )

    @override
    async def read(self, io: RegisterIO) -> Measurements:
        values = decoded(self.poll, await io.read_blocks(self.poll.blocks))
        mode_code = int(values["mode"])
        if mode_code not in _MODE_BY_CODE:
            raise DeviceResponseError(f"unknown mode code {mode_code}")
        return Measurements(
            soc_pct=float(values["soc_pct"]),
            active_power_w=float(values["active_power_w"]),
            reactive_power_var=float(values["reactive_power_var"]),
            mode=_MODE_BY_CODE[mode_code],
            reserve_pct=float(values["reserve_pct"]),
            power_setpoint_w=float(values["power_setpoint_w"]),
            reactive_setpoint_var=float(values["reactive_setpoint_var"]),
            enabled=bool(values["enabled"]),
            voltage_v=float(values["voltage_v"]),
            temperature_c=float(values["temperature_c"]),
            charge_energy_kwh=float(values["charge_energy_kwh"]),
            discharge_energy_kwh=float(values["discharge_energy_kwh"]),
        )

    @override
    async def write(self, io: RegisterIO, setpoints: Setpoints, info: DeviceInfo) -> None:
        for field, reg in _FIELD_REGISTERS.items():
            value = getattr(setpoints, field)
            if value is not None:
                await io.write_words(
                    reg.address, r.encode(reg, r.MODE_CODES[value] if field == "mode" else value)
                )

    @override
    async def set_enabled(self, io: RegisterIO, enabled: bool) -> None:
        await io.write_words(r.R_ENABLE.address, [int(enabled)])
