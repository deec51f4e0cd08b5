"""Comparing what a simulated battery holds with what the controller wants."""

from custom_components.battery_steward.device import registers as r
from custom_components.battery_steward.device.simulator import SimulatedBattery
from custom_components.battery_steward.engine.state import Setpoints

_REGISTER_OF = {
    "mode": "mode",
    "reserve_pct": "reserve_pct",
    "power_w": "power_setpoint_w",
    "reactive_var": "reactive_setpoint_var",
}


def mismatches(desired: Setpoints, simulator: SimulatedBattery) -> dict[str, tuple[object, object]]:
    """The fields the battery does not hold: {field: (wanted, held)}."""
    out: dict[str, tuple[object, object]] = {}
    for name in desired.set_fields():
        wanted = getattr(desired, name)
        wanted = r.MODE_CODES[wanted.value] if name == "mode" else float(wanted)
        held = simulator.read_register(_REGISTER_OF[name])
        if held != wanted:
            out[name] = (wanted, held)
    return out
