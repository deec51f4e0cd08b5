"""The built-in simulated battery: battery physics behind the `steward` register map over Modbus TCP.

Runs inside Home Assistant (the `simulator` battery kind), in tests, or on its own:
`python -m custom_components.battery_steward.device.simulator --port 5020`.
"""

from .physics import BatteryModel, SimConfig
from .server import SimulatedBattery, WriteRecord

__all__ = ["BatteryModel", "SimConfig", "SimulatedBattery", "WriteRecord"]
