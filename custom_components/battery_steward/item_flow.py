"""Schedule items as config subentries: add, reconfigure (and delete, native) in the UI."""

from datetime import datetime, timedelta
from typing import Any
import zoneinfo

from homeassistant.config_entries import ConfigEntryState, ConfigSubentryFlow, SubentryFlowResult
from homeassistant.helpers import config_validation as cv, selector
from homeassistant.util import dt as dt_util
import probatio as vol

from .const import LOGGER
from .default_item import async_complete_default
from .engine.presets import PRESETS
from .engine.serialize import item_to_dict
from .item_fields import FIELDS
from .schedule import ItemRejectedError, build_item, flat_to_item_dict, item_store_data

TYPES = ("window", "cron", "interval", "one_off", "ramp", "default", "preset")
# Items whose times are local wall-clock times: they are planned in their own time zone.
_ZONED = ("window", "cron", "ramp", "preset")
_DATETIMES = ("anchor", "at", "start_at", "valid_from", "valid_until")
# Optional fields: a reconfigure that leaves one empty removes it from the item.
_CLEARABLE = (
    "duration_s",
    "misfire_grace_s",
    "step_s",
    "tz",
    "valid_from",
    "valid_until",
    "start_at",
    "daily_at",
    "cron",
)


# Each type's own fields, in form order, and whether the form requires them; every type then
# has the setpoints, priority, enabled and validity (item_fields.FIELDS says how each is asked).
_LAYOUT: dict[str, tuple[tuple[str, bool], ...]] = {
    "window": (("weekdays", True), ("start", True), ("end", True)),
    "cron": (("cron", True),),
    "interval": (("anchor", True), ("every_s", True), ("duration_s", False)),
    "one_off": (("at", True), ("misfire_grace_s", False)),
    "ramp": (  # exactly one start: an instant, a daily local time or a cron expression
        ("start_at", False),
        ("daily_at", False),
        ("cron", False),
        ("duration_s", True),
        ("power_from_w", True),
        ("power_to_w", True),
        ("step_s", False),
    ),
}
_COMMON = (("mode", False), ("reserve_pct", False), ("power_w", False), ("reactive_var", False))


def _opt(key: str, defaults: dict[str, Any]) -> vol.Optional:
    # Suggested, not default: a field the user clears must stay cleared.
    return vol.Optional(key)


def _req(key: str, defaults: dict[str, Any]) -> vol.Required:
    if key in ("priority", "enabled"):
        return vol.Required(key, default=defaults[key])
    return vol.Required(key)


def _field(key: str, required: bool, d: dict[str, Any]) -> tuple[Any, Any]:
    return (_req(key, d) if required else _opt(key, d)), FIELDS[key].selector


def _validity(kind: str, d: dict[str, Any], zones: list[str]) -> dict[Any, Any]:
    """Time zone (wall-clock items) and validity dates: on every type."""
    fields: dict[Any, Any] = {}
    if kind in _ZONED:
        # A list to pick from; a typed zone is checked like the actions check it.
        fields[_opt("tz", d)] = selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=zones, custom_value=True, sort=True, mode=selector.SelectSelectorMode.DROPDOWN
            )
        )
    fields[_opt("valid_from", d)] = FIELDS["valid_from"].selector
    fields[_opt("valid_until", d)] = FIELDS["valid_until"].selector
    return fields


def _schema(kind: str, d: dict[str, Any], zones: list[str]) -> vol.Schema:
    """The form of one item type, prefilled from `d` (flat fields)."""
    if kind == "preset":
        return vol.Schema(
            {
                vol.Required("preset"): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=list(PRESETS), translation_key="preset")
                ),
                **_validity(kind, d, zones),
            }
        )
    fields: dict[Any, Any] = dict(
        _field(key, required, d) for key, required in (("name", True), *_LAYOUT.get(kind, ()), *_COMMON)
    )
    if kind == "default":  # it holds at all times: no times, dates, zone or priority
        return vol.Schema(
            fields | {_req("enabled", {"enabled": d.get("enabled", True)}): FIELDS["enabled"].selector}
        )
    fields |= {
        _req("priority", {"priority": d.get("priority", 0)}): FIELDS["priority"].selector,
        _req("enabled", {"enabled": d.get("enabled", True)}): FIELDS["enabled"].selector,
        **_validity(kind, d, zones),
    }
    return vol.Schema(fields)


def _flat(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored item dict as flat form fields (date-times as Home Assistant's local time)."""
    flat = {k: v for k, v in stored.items() if k not in ("setpoints", "type", "id")}
    flat |= dict(stored.get("setpoints") or {})
    if "weekdays" in flat:
        flat["weekdays"] = [str(d) for d in flat["weekdays"]]
    for key in _DATETIMES:
        if isinstance(flat.get(key), str):
            local = dt_util.as_local(datetime.fromisoformat(flat[key]))
            flat[key] = local.strftime("%Y-%m-%d %H:%M:%S")
    return {k: v for k, v in flat.items() if v is not None}


def _parse(user_input: dict[str, Any]) -> dict[str, Any]:
    """Form values -> typed service-like fields (date-times parsed, numbers as floats)."""
    out = dict(user_input)
    for key in _DATETIMES:
        if isinstance(out.get(key), str):
            out[key] = cv.datetime(out[key])
    if "weekdays" in out:
        out["weekdays"] = [int(d) for d in out["weekdays"]]
    if "priority" in out:
        out["priority"] = int(out["priority"])
    return out


def _error_field(key: str, parsed: dict[str, Any]) -> str:
    """The form field an error belongs to, where one field is to blame."""
    if key == "item_unknown_time_zone":
        return "tz"
    start, end = parsed.get("valid_from"), parsed.get("valid_until")
    if key == "item_end_before_start" and isinstance(start, datetime) and isinstance(end, datetime):
        aware = [t if t.tzinfo else t.replace(tzinfo=dt_util.get_default_time_zone()) for t in (start, end)]
        if aware[1] <= aware[0]:
            return "valid_until"
    return "base"


def window_defaults(now: datetime) -> dict[str, Any]:
    """A new window: every day, one hour from the next quarter hour (local time)."""
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=15 - now.minute % 15)
    end = start + timedelta(hours=1)
    return {
        "weekdays": [str(day) for day in range(7)],
        "start": start.strftime("%H:%M:00"),
        "end": end.strftime("%H:%M:00"),
    }


class ScheduleItemFlow(ConfigSubentryFlow):
    """Choose a type, fill in its form; the item is validated like the services do."""

    _kind: str = ""

    async def _async_zones(self) -> list[str]:
        return sorted(await self.hass.async_add_executor_job(zoneinfo.available_timezones))

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

    async def async_step_default(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """The battery's default state (one per battery)."""
        return await self._async_new("default", user_input)

    async def async_step_preset(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """A ready-made item: the same one the add_preset action creates."""
        return await self._async_new("preset", user_input)

    async def _async_new(self, kind: str, user_input: dict[str, Any] | None) -> SubentryFlowResult:
        self._kind = kind
        defaults: dict[str, Any] = {"tz": str(self.hass.config.time_zone)}
        if kind == "window":
            defaults |= window_defaults(dt_util.now())
        return await self._async_form(user_input, defaults, None)

    async def _async_form(
        self, user_input: dict[str, Any] | None, defaults: dict[str, Any], stored: dict[str, Any] | None
    ) -> SubentryFlowResult:
        if self._get_entry().state is not ConfigEntryState.LOADED:
            # Items are checked against the battery's limits and other items: it must be loaded.
            return self.async_abort(reason="entry_not_loaded")
        step_id = "reconfigure" if stored is not None else self._kind
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            entry = self._get_entry()
            parsed = _parse(user_input)
            if self._kind == "preset":
                base = item_to_dict(PRESETS[parsed.pop("preset")](str(self.hass.config.time_zone)))
            elif stored is None:
                base = {"type": self._kind}
            else:
                base = {**stored, "setpoints": {}}
                for key in _CLEARABLE:
                    if key != "tz" or self._kind in _ZONED:
                        base.pop(key, None)
            data = flat_to_item_dict(parsed, base)
            data["id"] = self._get_reconfigure_subentry().subentry_id if stored is not None else "new"
            try:
                item = build_item(self.hass, entry, data)
            except ItemRejectedError as err:
                LOGGER.debug("Schedule item refused: %s %s", err.key, err.placeholders)
                errors[_error_field(err.key, parsed)] = err.key
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
                if self._kind == "preset":  # complete on its own, as the add_preset action makes it
                    async_complete_default(self.hass, entry, item.setpoints.set_fields())
                return self.async_create_entry(title=item.name or self._kind, data=item_store_data(item))
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(
                _schema(self._kind, defaults, await self._async_zones()), defaults
            ),
            errors=errors,
            description_placeholders=placeholders or {"detail": ""},
        )
