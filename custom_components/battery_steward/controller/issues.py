"""Repair issues a controller raises: fights (fixable) and writes without effect.

Their ids, severities and translation keys come from repairs.py's table, as every issue's do.
Effect verification lives here too: the rule (`expected_effect_missing`) is pure.
"""

from homeassistant.core import HomeAssistant

from ..engine.state import Measurements, Mode
from ..repairs import Issue, async_clear_issue, async_raise_issue


class ControllerIssues:
    """The repair issues of one battery's controller (made as every issue is: repairs.py)."""

    def __init__(self, hass: HomeAssistant, *, entry_id: str, name: str) -> None:
        """Issues are keyed by the entry, shown with the battery's name."""
        self.hass = hass
        self.entry_id = entry_id
        self.name = name

    def _raise(self, key: Issue, placeholders: dict[str, str], detail: str | None = None) -> None:
        async_raise_issue(
            self.hass, key, self.entry_id, {"battery": self.name, **placeholders}, detail=detail
        )

    def fight(self, field: str, values: list[str]) -> None:
        """Something else keeps changing `field`: a fixable issue names it and the values seen."""
        self._raise(Issue.FIGHT, {"field": field, "values": ", ".join(values)}, field)

    def fight_over(self, field: str) -> None:
        """The fight over `field` ended (resolved by the user, or the value stayed put)."""
        async_clear_issue(self.hass, Issue.FIGHT, self.entry_id, field)
        async_clear_issue(self.hass, Issue.NO_EFFECT_FIELD, self.entry_id, field)

    def no_effect_field(self, field: str, values: list[str]) -> None:
        """Writes of `field` were acknowledged and never showed: no one to fight, the battery ignores us."""
        self._raise(Issue.NO_EFFECT_FIELD, {"field": field, "values": ", ".join(values)}, field)

    def no_effect(self, detail: str | None) -> None:
        """Raise (detail) or clear (None) the issue of a write the battery did not act on."""
        if detail is None:
            async_clear_issue(self.hass, Issue.NO_EFFECT, self.entry_id)
            return
        self._raise(Issue.NO_EFFECT, {"detail": detail})


def expected_effect_missing(data: Measurements, rating_w: float, *, rate_settable: bool = True) -> str | None:
    """Why the measured power does not match the commanded mode and rate, or None when it does.

    In a force mode with a power setpoint the battery must reach at least half of it, unless it is
    full (charging) or at its reserve (discharging). Where the rate can be set, a setpoint of 0 is
    0 W (the full rate is an explicit choice, issue 17): like idle, no clear flow may be measured.
    A device without a rate to set (it reads back 0) runs a force mode at its own rate: any clear
    flow will do.
    """
    threshold = max(20.0, 0.01 * rating_w)
    if not data.enabled:
        return None
    forced = data.mode in (Mode.FORCE_CHARGE, Mode.FORCE_DISCHARGE)
    if data.mode is Mode.IDLE or (forced and rate_settable and not data.power_setpoint_w):
        if abs(data.active_power_w) <= threshold:
            return None
        commanded = "idle" if data.mode is Mode.IDLE else "force charge at 0 W"
        if data.mode is Mode.FORCE_DISCHARGE:
            commanded = "force discharge at 0 W"
        return f"{commanded} commanded, measured {data.active_power_w:.0f} W"
    rate = min(abs(data.power_setpoint_w), rating_w) or rating_w
    enough = max(threshold, 0.5 * abs(data.power_setpoint_w)) if data.power_setpoint_w else threshold
    charging = data.mode is Mode.FORCE_CHARGE and data.soc_pct < 99.0
    if charging and data.active_power_w > -enough:
        return f"force charge at {rate:.0f} W commanded, measured {data.active_power_w:.0f} W"
    discharging = data.mode is Mode.FORCE_DISCHARGE and data.soc_pct > data.reserve_pct + 1.0
    if discharging and data.active_power_w < enough:
        return f"force discharge at {rate:.0f} W commanded, measured {data.active_power_w:.0f} W"
    return None
