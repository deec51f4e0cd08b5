"""The Home Assistant side of the loop: one controller per battery (see docs/architecture.md).

loop.py is the level-triggered loop, runner.py runs it one pass at a time and is the only path
that writes, plant.py holds the plant commands (safe stop, restore, enable, switches) and
issues.py the repair issues.
"""

from ..engine.decide import STALE_NOTE
from .commands import BatteryController
from .issues import expected_effect_missing
from .plant import PlantState, SafeStopResult
from .settings import ControllerSettings

__all__ = [
    "STALE_NOTE",
    "BatteryController",
    "ControllerSettings",
    "PlantState",
    "SafeStopResult",
    "expected_effect_missing",
]
