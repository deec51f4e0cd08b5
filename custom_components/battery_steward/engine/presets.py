"""Ready-made items (seed 003's static schedules, seed 002's tariff windows)."""

from datetime import time

from .items import WindowItem
from .state import Mode, Setpoints

WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


def peak_window(tz: str, setpoints: Setpoints | None = None, *, item_id: str = "preset_peak") -> WindowItem:
    """Weekdays 19:00-22:00 (on-peak): by default discharge freely, keep a 20 % reserve."""
    return WindowItem(
        id=item_id,
        name="On-peak 19:00-22:00 weekdays",
        tz=tz,
        weekdays=WEEKDAYS,
        start=time(19),
        end=time(22),
        setpoints=setpoints or Setpoints(mode=Mode.AUTO, reserve_pct=20),
    )


def night_idle(tz: str, *, item_id: str = "preset_night_idle") -> WindowItem:
    """Every night 22:00-06:00: idle (seed 002's MANUAL 0 W at night), over the default's auto.

    Adding a preset completes the battery's default item with the fields the preset sets, so the
    battery is automatic by day from the preset alone (default_item.async_complete_default).
    """
    return WindowItem(
        id=item_id,
        name="Night idle 22:00-06:00",
        tz=tz,
        weekdays=EVERY_DAY,
        start=time(22),
        end=time(6),
        setpoints=Setpoints(mode=Mode.IDLE),
    )


PRESETS = {"peak_window": peak_window, "night_idle": night_idle}
