"""Actions: schedule items, overrides, reconciliation, journal and plan preview.

Registered once in async_setup. Every battery action takes Home Assistant targets (devices,
areas, floors, labels or entities), resolved to our batteries with HA's target helpers, so one
call acts on several batteries at once; schemas enforce ranges (selectors only bound the UI);
bad input raises a translated ServiceValidationError and nothing is written to any battery.
"""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import ConfigEntryState, ConfigSubentry
from homeassistant.core import (
    Context,
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr, service, target
from homeassistant.util import dt as dt_util
import probatio as vol

from .const import DOMAIN, SOURCES, TRANSPORTS
from .default_item import async_complete_default
from .engine.follow import run_length
from .engine.items import Item, RampItem, SeriesItem
from .engine.journal import Result
from .engine.presets import PRESETS
from .engine.serialize import (
    ITEM_TYPES,
    TYPE_NAMES,
    item_from_dict,
    item_to_dict,
    setpoints_to_dict,
)
from .engine.state import Mode, Setpoints
from .helpers import device_errors
from .item_fields import FIELDS, action_fields
from .item_status import item_status
from .runtime import BatteryConfigEntry
from .schedule import (
    SUBENTRY_ITEM,
    ItemRejectedError,
    build_item,
    entry_items,
    flat_to_item_dict,
    item_store_data,
)

# entity_id, device_id, area_id, floor_id, label_id: what a `target:` in services.yaml sends.
_TARGET = cv.TARGET_SERVICE_FIELDS
_SETPOINTS = action_fields(setpoints_only=True)
_ITEM = action_fields()
_WATTS = FIELDS["power_w"].validator
ADD_ITEM_SCHEMA = vol.Schema(
    {**_TARGET, vol.Required("type"): vol.In([t for t in ITEM_TYPES if t != "series"]), **_ITEM}
)
UPDATE_ITEM_SCHEMA = vol.Schema({vol.Required("item_id"): cv.string, **_ITEM})
REMOVE_ITEM_SCHEMA = vol.Schema({vol.Required("item_id"): vol.All(cv.ensure_list, [cv.string])})
TARGET_SCHEMA = vol.Schema(_TARGET)


def _time_period(value: Any) -> timedelta:
    """cv.time_period, refusing durations too large for a timedelta instead of crashing."""
    try:
        period: timedelta = cv.time_period(value)
    except OverflowError as err:
        raise vol.Invalid("duration out of range") from err
    return period


SET_OVERRIDE_SCHEMA = vol.Schema(
    {
        **_TARGET,
        **_SETPOINTS,
        vol.Exclusive("duration", "lifetime"): vol.All(
            _time_period, vol.Range(min=timedelta(seconds=1), max=timedelta(days=366))
        ),
        vol.Exclusive("until_cleared", "lifetime"): cv.boolean,
        # 0 W is 0 W: the full rate is asked for explicitly (the battery's rating in the mode's direction).
        vol.Optional("full_rate"): cv.boolean,
    }
)
JOURNAL_SCHEMA = vol.Schema(
    {
        **_TARGET,
        vol.Optional("since"): cv.datetime,
        vol.Optional("until"): cv.datetime,
        vol.Optional("result"): vol.All(cv.ensure_list, [vol.In([r.value for r in Result])]),
        vol.Optional("limit", default=100): vol.All(vol.Coerce(int), vol.Range(min=1, max=10000)),
    }
)
PREVIEW_MIN_H = 1
PREVIEW_MAX_H = 168  # 7 days, as the Plan calendar
PREVIEW_SCHEMA = vol.Schema(
    # The range is checked in the action, so that 200 gets a translated message, not voluptuous's.
    {**_TARGET, vol.Optional("hours", default=24): vol.Coerce(float)}
)


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _aware(value: datetime | None) -> datetime | None:
    """Service datetimes without an offset are local to Home Assistant."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt_util.get_default_time_zone())


async def _targets(hass: HomeAssistant, call: ServiceCall) -> list[BatteryConfigEntry]:
    """The loaded batteries a call targets, in setup order.

    A device named explicitly must be one of ours; areas, floors, labels and entities may also
    hold other things, which are left out. Nothing of ours at all is refused.
    """
    registry = dr.async_get(hass)
    for device_id in sorted(target.TargetSelection(call.data).device_ids):
        device = registry.async_get(device_id)
        candidate = hass.config_entries.async_get_entry(device.config_entry_id) if device else None
        if candidate is None or candidate.domain != DOMAIN:
            raise _invalid("unknown_battery", device_id=device_id)
    entry_ids = await service.async_extract_config_entry_ids(call)
    found: list[BatteryConfigEntry] = [
        entry for entry in hass.config_entries.async_entries(DOMAIN) if entry.entry_id in entry_ids
    ]
    if not found:
        raise _invalid("no_battery_matched")
    for entry in found:
        if entry.state is not ConfigEntryState.LOADED:
            raise _invalid("battery_not_loaded", battery=entry.title)
    return found


def _check_item(hass: HomeAssistant, entry: BatteryConfigEntry, data: dict[str, Any]) -> Item:
    try:
        return build_item(hass, entry, data)
    except ItemRejectedError as err:
        raise _invalid(err.key, **err.placeholders) from err


def _find_item(hass: HomeAssistant, item_id: str) -> tuple[BatteryConfigEntry, ConfigSubentry]:
    for entry in hass.config_entries.async_entries(DOMAIN):
        subentry = entry.subentries.get(item_id)
        if subentry is not None and subentry.subentry_type == SUBENTRY_ITEM:
            if entry.state is not ConfigEntryState.LOADED:
                raise _invalid("battery_not_loaded", battery=entry.title)
            return entry, subentry
    raise _invalid("unknown_item", item_id=item_id)


async def _add_item(call: ServiceCall) -> ServiceResponse:
    hass = call.hass
    data = flat_to_item_dict(call.data) | {"id": "new"}
    entries = await _targets(hass, call)
    return _create_items(hass, [(entry, _check_item(hass, entry, data)) for entry in entries])


ADD_PRESET_SCHEMA = vol.Schema({**_TARGET, vol.Required("preset"): vol.In(list(PRESETS))})


async def _add_preset(call: ServiceCall) -> ServiceResponse:
    """A ready-made item (seed 003's static schedules) in Home Assistant's time zone."""
    hass = call.hass
    preset = PRESETS[call.data["preset"]](str(hass.config.time_zone))
    data = item_to_dict(preset) | {"id": "new"}
    entries = await _targets(hass, call)
    created = _create_items(hass, [(entry, _check_item(hass, entry, data)) for entry in entries])
    for entry in entries:  # complete on its own: what the preset sets has a value outside it
        async_complete_default(hass, entry, preset.setpoints.set_fields())
    return created


def battery_keys(entries: Iterable[BatteryConfigEntry]) -> dict[str, str]:
    """Response key per entry id: the battery's name (its title), which a user can read.

    Two batteries with the same name get their entry id appended, so no answer is lost.
    """
    entries = list(entries)
    titles = Counter(entry.title for entry in entries)
    return {
        entry.entry_id: entry.title if titles[entry.title] == 1 else f"{entry.title} ({entry.entry_id})"
        for entry in entries
    }


def _by_battery(
    entries: list[BatteryConfigEntry], answer: Callable[[BatteryConfigEntry], dict[str, Any]]
) -> dict[str, Any]:
    """One answer per battery, keyed by its name, with the entry id inside."""
    keys = battery_keys(entries)
    return {keys[entry.entry_id]: {"entry_id": entry.entry_id, **answer(entry)} for entry in entries}


def _create_items(hass: HomeAssistant, checked: list[tuple[BatteryConfigEntry, Item]]) -> ServiceResponse:
    """Store validated items as subentries, once every targeted battery has accepted them."""
    created: dict[str, Any] = {}
    keys = battery_keys(entry for entry, _item in checked)
    for entry, item in checked:
        subentry = ConfigSubentry(
            data=MappingProxyType(item_store_data(item)),
            subentry_type=SUBENTRY_ITEM,
            title=item.name or item_to_dict(item)["type"],
            unique_id=None,
        )
        hass.config_entries.async_add_subentry(entry, subentry)
        created[keys[entry.entry_id]] = {"entry_id": entry.entry_id, "item_id": subentry.subentry_id}
    return created


async def _update_item(call: ServiceCall) -> ServiceResponse:
    hass = call.hass
    entry, subentry = _find_item(hass, call.data["item_id"])
    merged = flat_to_item_dict(call.data, dict(subentry.data)) | {"id": subentry.subentry_id}
    item = _check_item(hass, entry, merged)
    hass.config_entries.async_update_subentry(
        entry, subentry, data=item_store_data(item), title=item.name or subentry.title
    )
    return None


async def _remove_item(call: ServiceCall) -> ServiceResponse:
    hass = call.hass
    ids: list[str] = call.data["item_id"]
    for index, item_id in enumerate(ids):
        if item_id in ids[:index]:  # refused before anything is removed
            raise _invalid("item_repeated", item_id=item_id)
    found = [_find_item(hass, item_id) for item_id in ids]
    for entry, subentry in found:
        hass.config_entries.async_remove_subentry(entry, subentry.subentry_id)
    return None


LIST_ITEMS_SCHEMA = vol.Schema(
    {
        **_TARGET,
        vol.Optional("item_id"): cv.string,
        vol.Optional("type"): vol.All(cv.ensure_list, [vol.In([t for t in ITEM_TYPES if t != "series"])]),
        vol.Optional("enabled"): cv.boolean,
    }
)


async def _list_items(call: ServiceCall) -> ServiceResponse:
    """Each item with what a user follows of it; by type, by enabled state, or one by id."""
    hass = call.hass
    if "item_id" in call.data:
        entries = [_find_item(hass, call.data["item_id"])[0]]
    else:
        entries = await _targets(hass, call)
    now = dt_util.utcnow()

    def answer(entry: BatteryConfigEntry) -> dict[str, Any]:
        controller = entry.runtime_data.controller
        items = [
            item_to_dict(item) | item_status(controller, item, now)
            for item in entry_items(entry)
            if call.data.get("item_id", item.id) == item.id
            and TYPE_NAMES[type(item)] in call.data.get("type", ITEM_TYPES)
            and call.data.get("enabled", item.enabled) == item.enabled
        ]
        return {"items": items}

    return _by_battery(entries, answer)


RUN_ITEM_SCHEMA = vol.Schema({vol.Required("item_id"): cv.string, vol.Optional("until_cleared"): cv.boolean})


async def _run_item(call: ServiceCall) -> ServiceResponse:
    """Apply an item's setpoints now, as an override until the item's own end (or until cleared)."""
    entry, subentry = _find_item(call.hass, call.data["item_id"])
    item = item_from_dict({**subentry.data, "id": subentry.subentry_id})
    if isinstance(item, RampItem):  # its power moves over time: an override holds one value
        raise _invalid("item_cannot_run", item=item.name or item.id)
    await entry.runtime_data.controller.async_set_override(
        item.setpoints,
        duration=run_length(item, dt_util.utcnow()),
        until_cleared=call.data.get("until_cleared", False),
        context=call.context,
        item=item.id,
    )
    return None


async def _set_override(call: ServiceCall) -> ServiceResponse:
    setpoints = Setpoints(
        mode=Mode(call.data["mode"]) if "mode" in call.data else None,
        reserve_pct=call.data.get("reserve_pct"),
        power_w=call.data.get("power_w"),
        reactive_var=call.data.get("reactive_var"),
    )
    full_rate = call.data.get("full_rate", False)
    if full_rate and (
        setpoints.mode not in (Mode.FORCE_CHARGE, Mode.FORCE_DISCHARGE) or "power_w" in call.data
    ):
        raise _invalid("full_rate_needs_force_mode")
    if not setpoints.set_fields():
        raise _invalid("override_empty")
    entries = await _targets(call.hass, call)
    wanted: dict[str, Setpoints] = {}
    for entry in entries:  # refuse before anything is written to any battery
        limits = entry.runtime_data.coordinator.info.limits
        wanted[entry.entry_id] = (
            replace(
                setpoints,
                power_w=-limits.max_charge_w
                if setpoints.mode is Mode.FORCE_CHARGE
                else limits.max_discharge_w,
            )
            if full_rate
            else setpoints
        )
        with device_errors():
            entry.runtime_data.coordinator.info.check(wanted[entry.entry_id])
    await _on_each(
        entries,
        lambda e: e.runtime_data.controller.async_set_override(
            wanted[e.entry_id],
            duration=call.data.get("duration"),
            until_cleared=call.data.get("until_cleared", False),
            context=call.context,
        ),
    )
    return None


async def _on_each(
    entries: list[BatteryConfigEntry], action: Callable[[BatteryConfigEntry], Awaitable[None] | None]
) -> None:
    """Act on every battery, all of them even when one fails, and report each one's outcome.

    One battery: its own error. Several: every battery is tried (concurrently: each has its own
    controller), then one translated error names each battery's outcome, as indevolt's
    multi_device_errors does.
    """

    async def one(entry: BatteryConfigEntry) -> None:
        if (result := action(entry)) is not None:
            await result

    results = await asyncio.gather(*(one(entry) for entry in entries), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    if not failed:
        return
    if len(entries) == 1 or any(not isinstance(r, HomeAssistantError) for r in failed):
        raise failed[0]
    outcomes = "; ".join(
        f"{entry.title}: {'done' if not isinstance(result, BaseException) else result}"
        for entry, result in zip(entries, results, strict=True)
    )
    raise HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="multi_battery_errors",
        translation_placeholders={
            "failed": str(len(failed)),
            "total": str(len(entries)),
            "outcomes": outcomes,
        },
    )


def _each(
    action: Callable[[BatteryConfigEntry], Awaitable[None] | None],
) -> Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]:
    async def handler(call: ServiceCall) -> ServiceResponse:
        await _on_each(await _targets(call.hass, call), action)
        return None

    return handler


def _each_for(
    action: Callable[[BatteryConfigEntry, Context], Awaitable[None] | None],
) -> Callable[[ServiceCall], Coroutine[Any, Any, ServiceResponse]]:
    """As _each, handing the action the call's context (the journal names its user)."""

    async def handler(call: ServiceCall) -> ServiceResponse:
        return await _each(lambda e: action(e, call.context))(call)

    return handler


async def _get_journal(call: ServiceCall) -> ServiceResponse:
    results = [Result(r) for r in call.data["result"]] if "result" in call.data else None

    def answer(entry: BatteryConfigEntry) -> dict[str, Any]:
        controller = entry.runtime_data.controller
        records = controller.journal.query(
            since=_aware(call.data.get("since")),
            until=_aware(call.data.get("until")),
            results=results,
            limit=call.data["limit"],
        )
        return {"records": [rec.as_dict() for rec in records], "statistics": controller.statistics()}

    return _by_battery(await _targets(call.hass, call), answer)


async def _preview_plan(call: ServiceCall) -> ServiceResponse:
    hours = call.data["hours"]
    if not PREVIEW_MIN_H <= hours <= PREVIEW_MAX_H:
        raise _invalid(
            "preview_hours", hours=f"{hours:g}", minimum=str(PREVIEW_MIN_H), maximum=str(PREVIEW_MAX_H)
        )
    now = dt_util.utcnow()
    end = now + timedelta(hours=hours)

    def answer(entry: BatteryConfigEntry) -> dict[str, Any]:
        controller = entry.runtime_data.controller
        changes = [
            {
                "at": at.isoformat(),
                "local": dt_util.as_local(at).isoformat(),
                "setpoints": setpoints_to_dict(setpoints),
            }
            for at, setpoints in controller.changes_between(now, end)
        ]
        return {"now": setpoints_to_dict(controller.desired_at(now)), "changes": changes}

    return _by_battery(await _targets(call.hass, call), answer)


SAFE_STOP_SCHEMA = vol.Schema(
    {
        **_TARGET,
        vol.Optional("threshold_w"): vol.All(vol.Coerce(float), vol.Range(min=0.1, max=1e6)),
        vol.Optional("timeout_s"): vol.All(vol.Coerce(float), vol.Range(min=1, max=3600)),
    }
)


async def _safe_stop(call: ServiceCall) -> ServiceResponse:
    entries = await _targets(call.hass, call)
    results = await asyncio.gather(
        *(
            entry.runtime_data.controller.async_safe_stop(
                threshold_w=call.data.get("threshold_w"),
                timeout_s=call.data.get("timeout_s"),
                context=call.context,
            )
            for entry in entries
        )
    )
    answers = dict(zip((entry.entry_id for entry in entries), results, strict=True))
    return _by_battery(entries, lambda entry: answers[entry.entry_id].as_dict())


SET_SOURCE_SCHEMA = vol.Schema({**_TARGET, vol.Required("source"): vol.In(list(SOURCES))})
SET_SERIES_SCHEMA = vol.Schema(
    {
        **_TARGET,
        vol.Required("rows"): vol.All(
            cv.ensure_list,
            vol.Length(min=1, max=10000),
            [
                vol.Schema(
                    {
                        vol.Required("start"): cv.datetime,
                        vol.Required("period_s"): vol.All(vol.Coerce(float), vol.Range(min=1, max=86400)),
                        vol.Required("power_w"): _WATTS,
                        vol.Optional("reactive_var"): _WATTS,
                    }
                )
            ],
        ),
    }
)


SET_TRANSPORT_SCHEMA = vol.Schema({**_TARGET, vol.Required("transport"): vol.In(list(TRANSPORTS))})


async def _set_transport(call: ServiceCall) -> ServiceResponse:
    entries = await _targets(call.hass, call)
    for entry in entries:
        if entry.runtime_data.transports is None:
            raise _invalid("no_emulator", battery=entry.title)
    transport = call.data["transport"]
    await _on_each(
        entries, lambda e: e.runtime_data.controller.async_set_transport(transport, context=call.context)
    )
    return None


async def _set_source(call: ServiceCall) -> ServiceResponse:
    entries = await _targets(call.hass, call)
    source = call.data["source"]
    await _on_each(
        entries, lambda e: e.runtime_data.controller.async_set_source(source, context=call.context)
    )
    return None


async def _set_series(call: ServiceCall) -> ServiceResponse:
    rows = [
        {**row, "start": (_aware(row["start"]) or row["start"]).astimezone(UTC).isoformat()}
        for row in call.data["rows"]
    ]
    entries = await _targets(call.hass, call)
    checked = [
        (entry, _check_item(call.hass, entry, {"type": "series", "id": "series", "tz": "UTC", "rows": rows}))
        for entry in entries
    ]
    series = {entry.entry_id: item for entry, item in checked}
    await _on_each(entries, lambda e: e.runtime_data.controller.async_set_series(_series(series[e.entry_id])))
    return None


def _series(item: Item) -> SeriesItem:
    assert isinstance(item, SeriesItem)
    return item


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every action of the integration."""
    admin = service.async_register_admin_service
    admin(hass, DOMAIN, "add_item", _add_item, ADD_ITEM_SCHEMA, SupportsResponse.OPTIONAL)
    admin(hass, DOMAIN, "add_preset", _add_preset, ADD_PRESET_SCHEMA, SupportsResponse.OPTIONAL)
    admin(hass, DOMAIN, "update_item", _update_item, UPDATE_ITEM_SCHEMA)
    admin(hass, DOMAIN, "remove_item", _remove_item, REMOVE_ITEM_SCHEMA)
    admin(hass, DOMAIN, "set_override", _set_override, SET_OVERRIDE_SCHEMA)
    admin(hass, DOMAIN, "run_item", _run_item, RUN_ITEM_SCHEMA)
    admin(
        hass,
        DOMAIN,
        "clear_override",
        _each_for(lambda e, ctx: e.runtime_data.controller.async_clear_override(context=ctx)),
        TARGET_SCHEMA,
    )
    admin(
        hass,
        DOMAIN,
        "reconcile_now",
        _each_for(lambda e, ctx: e.runtime_data.controller.async_reconcile_now(context=ctx)),
        TARGET_SCHEMA,
    )
    admin(
        hass,
        DOMAIN,
        "start_reconciliation",
        _each_for(lambda e, ctx: e.runtime_data.controller.async_set_reconciliation(True, context=ctx)),
        TARGET_SCHEMA,
    )
    admin(
        hass,
        DOMAIN,
        "stop_reconciliation",
        _each_for(lambda e, ctx: e.runtime_data.controller.async_set_reconciliation(False, context=ctx)),
        TARGET_SCHEMA,
    )
    admin(hass, DOMAIN, "set_source", _set_source, SET_SOURCE_SCHEMA)
    admin(hass, DOMAIN, "set_transport", _set_transport, SET_TRANSPORT_SCHEMA)
    admin(hass, DOMAIN, "set_series", _set_series, SET_SERIES_SCHEMA)
    admin(hass, DOMAIN, "safe_stop", _safe_stop, SAFE_STOP_SCHEMA, SupportsResponse.OPTIONAL)
    admin(
        hass,
        DOMAIN,
        "restore",
        _each_for(lambda e, ctx: e.runtime_data.controller.async_restore(context=ctx)),
        TARGET_SCHEMA,
    )
    hass.services.async_register(DOMAIN, "list_items", _list_items, LIST_ITEMS_SCHEMA, SupportsResponse.ONLY)
    hass.services.async_register(DOMAIN, "get_journal", _get_journal, JOURNAL_SCHEMA, SupportsResponse.ONLY)
    hass.services.async_register(DOMAIN, "preview_plan", _preview_plan, PREVIEW_SCHEMA, SupportsResponse.ONLY)
