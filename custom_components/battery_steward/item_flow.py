"""Schedule items as config subentries: add, reconfigure (and delete, native) in the UI."""

from typing import Any

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.helpers import config_validation as cv, selector
import probatio as vol

from .const import LOGGER
from .engine.state import Mode
from .schedule import ItemRejectedError, build_item, flat_to_item_dict, item_store_data

TYPES = ("window", "cron", "interval", "one_off", "ramp")
_WEEKDAYS = [str(d) for d in range(7)]


def _number(low: float, high: float, unit: str, step: float = 1) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=low, max=high, step=step, unit_of_measurement=unit, mode=selector.NumberSelectorMode.BOX
        )
    )


def _opt(key: str, defaults: dict[str, Any]) -> vol.Optional:
    # Suggested, not default: a field the user clears must stay cleared.
    return vol.Optional(key)


def _req(key: str, defaults: dict[str, Any]) -> vol.Required:
    if key in ("priority", "enabled"):
        return vol.Required(key, default=defaults[key])
    return vol.Required(key)


def _schema(kind: str, d: dict[str, Any]) -> vol.Schema:
    """The form of one item type, prefilled from `d` (flat fields)."""
    fields: dict[Any, Any] = {
        _req("name", d): selector.TextSelector(),
    }
    if kind == "window":
        fields |= {
            _req("weekdays", d): selector.SelectSelector(
                selector.SelectSelectorConfig(options=_WEEKDAYS, multiple=True, translation_key="weekday")
            ),
            _req("start", d): selector.TimeSelector(),
            _req("end", d): selector.TimeSelector(),
        }
    elif kind == "cron":
        fields[_req("cron", d)] = selector.TextSelector()
    elif kind == "interval":
        fields |= {
            _req("anchor", d): selector.DateTimeSelector(),
            _req("every_s", d): _number(1, 31622400, "s"),
            _opt("duration_s", d): _number(1, 31622400, "s"),
        }
    elif kind == "one_off":
        fields |= {
            _req("at", d): selector.DateTimeSelector(),
            _opt("misfire_grace_s", d): _number(0, 86400, "s"),
        }
    else:
        fields |= {
            _req("start_at", d): selector.DateTimeSelector(),
            _req("duration_s", d): _number(1, 31622400, "s"),
            _req("power_from_w", d): _number(-1e6, 1e6, "W", 10),
            _req("power_to_w", d): _number(-1e6, 1e6, "W", 10),
            _opt("step_s", d): _number(1, 86400, "s"),
        }
    fields |= {
        _opt("mode", d): selector.SelectSelector(
            selector.SelectSelectorConfig(options=[m.value for m in Mode], translation_key="mode")
        ),
        _opt("reserve_pct", d): _number(0, 100, "%"),
        _opt("power_w", d): _number(-1e6, 1e6, "W", 10),
        _opt("reactive_var", d): _number(-1e6, 1e6, "var", 10),
        _req("priority", {"priority": d.get("priority", 0)}): _number(-100, 100, ""),
        _req("enabled", {"enabled": d.get("enabled", True)}): selector.BooleanSelector(),
    }
    return vol.Schema(fields)


def _flat(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored item dict as flat form fields."""
    flat = {k: v for k, v in stored.items() if k not in ("setpoints", "type", "id", "tz")}
    flat |= dict(stored.get("setpoints") or {})
    if "weekdays" in flat:
        flat["weekdays"] = [str(d) for d in flat["weekdays"]]
    return {k: v for k, v in flat.items() if v is not None}


def _parse(user_input: dict[str, Any]) -> dict[str, Any]:
    """Form values -> typed service-like fields (date-times parsed, numbers as floats)."""
    out = dict(user_input)
    for key in ("anchor", "at", "start_at"):
        if isinstance(out.get(key), str):
            out[key] = cv.datetime(out[key])
    if "weekdays" in out:
        out["weekdays"] = [int(d) for d in out["weekdays"]]
    if "priority" in out:
        out["priority"] = int(out["priority"])
    return out


class ScheduleItemFlow(ConfigSubentryFlow):
    """Choose a type, fill in its form; the item is validated like the services do."""

    _kind: str = ""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Pick the item type."""
        return self.async_show_menu(step_id="user", menu_options=list(TYPES))

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Edit an item: the form of its type, prefilled."""
        stored = dict(self._get_reconfigure_subentry().data)
        self._kind = str(stored.get("type"))
        return await self._async_form(user_input, _flat(stored), stored)

    async def async_step_window(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """A time window."""
        return await self._async_new("window", user_input)

    async def async_step_cron(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """A cron step change."""
        return await self._async_new("cron", user_input)

    async def async_step_interval(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """An interval."""
        return await self._async_new("interval", user_input)

    async def async_step_one_off(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """A one-off change."""
        return await self._async_new("one_off", user_input)

    async def async_step_ramp(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """A power ramp."""
        return await self._async_new("ramp", user_input)

    async def _async_new(self, kind: str, user_input: dict[str, Any] | None) -> SubentryFlowResult:
        self._kind = kind
        return await self._async_form(user_input, {}, None)

    async def _async_form(
        self, user_input: dict[str, Any] | None, defaults: dict[str, Any], stored: dict[str, Any] | None
    ) -> SubentryFlowResult:
        step_id = "reconfigure" if stored is not None else self._kind
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            entry = self._get_entry()
            base = {"type": self._kind} if stored is None else {**stored, "setpoints": {}}
            if stored is not None:
                for key in ("duration_s", "misfire_grace_s", "step_s"):
                    base.pop(key, None)
            data = flat_to_item_dict(_parse(user_input), base)
            data["id"] = self._get_reconfigure_subentry().subentry_id if stored is not None else "new"
            try:
                item = build_item(self.hass, entry, data)
            except ItemRejectedError as err:
                LOGGER.debug("Schedule item refused: %s %s", err.key, err.placeholders)
                errors["base"] = err.key
                placeholders = {"detail": ", ".join(f"{k}: {v}" for k, v in err.placeholders.items())}
                defaults = user_input
            else:
                if stored is not None:
                    return self.async_update_and_abort(
                        entry,
                        self._get_reconfigure_subentry(),
                        data=item_store_data(item),
                        title=item.name or self._kind,
                    )
                return self.async_create_entry(title=item.name or self._kind, data=item_store_data(item))
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(_schema(self._kind, defaults), defaults),
            errors=errors,
            description_placeholders=placeholders or {"detail": ""},
        )
