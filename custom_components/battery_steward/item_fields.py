"""One table of schedule-item fields: each key's validator, form selector and range, written once.

The actions' schemas (services.py) and the item forms (item_flow.py) are both built from it, so a
range cannot be written two ways again; schedule.py takes the list of item keys from it too.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.helpers import config_validation as cv, selector
import probatio as vol

from .engine.state import Mode

YEAR_S = 366 * 86400
DAY_S = 86400
POWER_W = 1e6


@dataclass(frozen=True, kw_only=True, slots=True)
class ItemField:
    """A field of a schedule item: how an action validates it and how a form asks for it."""

    key: str
    validator: Callable[[Any], Any]
    selector: selector.Selector[Any] | None  # None: the form builds it (a time-zone list)
    setpoint: bool = False  # part of the item's setpoints rather than of the item itself


def _number(
    key: str, low: float, high: float, unit: str, *, step: float = 1, setpoint: bool = False
) -> ItemField:
    """A number in [low, high]: the action's range check and the form's box, from the same bounds."""
    return ItemField(
        key=key,
        validator=vol.All(vol.Coerce(float), vol.Range(min=low, max=high)),
        selector=selector.NumberSelector(
            selector.NumberSelectorConfig(
                min=low, max=high, step=step, unit_of_measurement=unit, mode=selector.NumberSelectorMode.BOX
            )
        ),
        setpoint=setpoint,
    )


def _datetime(key: str) -> ItemField:
    return ItemField(key=key, validator=cv.datetime, selector=selector.DateTimeSelector())


FIELDS: dict[str, ItemField] = {
    field.key: field
    for field in (
        ItemField(key="name", validator=cv.string, selector=selector.TextSelector()),
        ItemField(key="enabled", validator=cv.boolean, selector=selector.BooleanSelector()),
        ItemField(
            key="priority",
            validator=vol.All(vol.Coerce(int), vol.Range(min=-100, max=100)),
            selector=_number("priority", -100, 100, "").selector,
        ),
        ItemField(key="tz", validator=cv.string, selector=None),
        _datetime("valid_from"),
        _datetime("valid_until"),
        ItemField(
            key="weekdays",
            validator=vol.All(cv.ensure_list, [vol.All(vol.Coerce(int), vol.Range(min=0, max=6))]),
            selector=selector.SelectSelector(
                # One list of check boxes: every day is one form, not seven trips to a picker.
                selector.SelectSelectorConfig(
                    options=[str(d) for d in range(7)],
                    multiple=True,
                    translation_key="weekday",
                    mode=selector.SelectSelectorMode.LIST,
                )
            ),
        ),
        ItemField(key="start", validator=cv.time, selector=selector.TimeSelector()),
        ItemField(key="end", validator=cv.time, selector=selector.TimeSelector()),
        ItemField(key="cron", validator=cv.string, selector=selector.TextSelector()),
        _datetime("anchor"),
        _number("every_s", 1, YEAR_S, "s"),
        _number("duration_s", 1, YEAR_S, "s"),
        _datetime("at"),
        _number("misfire_grace_s", 0, DAY_S, "s"),
        _datetime("start_at"),
        ItemField(key="daily_at", validator=cv.time, selector=selector.TimeSelector()),
        _number("power_from_w", -POWER_W, POWER_W, "W", step=10),
        _number("power_to_w", -POWER_W, POWER_W, "W", step=10),
        _number("step_s", 1, DAY_S, "s"),
        ItemField(
            key="mode",
            validator=vol.In([m.value for m in Mode]),
            selector=selector.SelectSelector(
                selector.SelectSelectorConfig(options=[m.value for m in Mode], translation_key="mode")
            ),
            setpoint=True,
        ),
        _number("reserve_pct", 0, 100, "%", setpoint=True),
        _number("power_w", -POWER_W, POWER_W, "W", step=10, setpoint=True),
        _number("reactive_var", -POWER_W, POWER_W, "var", step=10, setpoint=True),
    )
}

# The item's own keys (not setpoints), for turning flat fields into an item dict.
ITEM_KEYS: tuple[str, ...] = ("type", *(key for key, field in FIELDS.items() if not field.setpoint))
SETPOINT_KEYS: tuple[str, ...] = tuple(key for key, field in FIELDS.items() if field.setpoint)


def action_fields(*, setpoints_only: bool = False) -> dict[Any, Any]:
    """Every field as an optional key of an action's schema (ranges enforced: selectors only bound the UI)."""
    return {vol.Optional(key): f.validator for key, f in FIELDS.items() if f.setpoint or not setpoints_only}
