"""Diagnostics: configuration, last reading, plan preview, journal tail, controller state."""

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_TOKEN, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util

from .const import CONF_SERIAL
from .engine.serialize import setpoints_to_dict
from .runtime import BatteryConfigEntry

TO_REDACT = {
    CONF_HOST,
    CONF_SERIAL,
    "serial",
    "serial_number",
    "unique_id",
    "title",
    "api_url",
    "api_username",
    "api_password",
    CONF_USERNAME,
    CONF_PASSWORD,
    CONF_TOKEN,
    "access_token",
    "refresh_token",
    "identifiers",
    "connections",
    "register_map",  # a custom map's YAML may name the serial number
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: BatteryConfigEntry
) -> dict[str, Any]:
    """Everything needed to understand what the controller did, with identifiers redacted."""
    return async_redact_data(_snapshot(entry), TO_REDACT)


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: BatteryConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """One entry is one battery: the entry's diagnostics plus what the device registry knows."""
    snapshot = _snapshot(entry)
    snapshot["device_registry"] = {
        # Identifiers and names carry the serial number.
        "identifiers": REDACTED,
        "name": REDACTED if device.name else None,
        "name_by_user": REDACTED if device.name_by_user else None,
        "manufacturer": device.manufacturer,
        "model": device.model,
        "sw_version": device.sw_version,
        "hw_version": device.hw_version,
        "serial_number": device.serial_number,
        "disabled_by": device.disabled_by,
    }
    return async_redact_data(snapshot, TO_REDACT)


def _snapshot(entry: BatteryConfigEntry) -> dict[str, Any]:
    runtime = entry.runtime_data
    controller = runtime.controller
    coordinator = runtime.coordinator
    now = dt_util.utcnow()
    data = coordinator.data
    info = coordinator.info
    return {
        "entry": {
            "title": entry.title,
            "unique_id": entry.unique_id,
            "data": dict(entry.data),
            "options": dict(entry.options),
        },
        "device": {
            "model": info.model,
            "firmware": info.firmware,
            "serial": info.serial,
            "capacity_kwh": info.capacity_kwh,
            "limits": asdict(info.limits),
            "capabilities": {
                **asdict(info.capabilities),
                "modes": sorted(mode.value for mode in info.capabilities.modes),
            },
            "writable": sorted(info.writable),
        },
        "last_reading": asdict(data) if data is not None else None,
        "connected": coordinator.last_update_success,
        "schedule_api": (
            runtime.fetcher.status.as_dict() | {"token_held": runtime.fetcher.client.has_token}
            if runtime.fetcher
            else None
        ),
        "measurement_posting": runtime.poster.status() if runtime.poster else None,
        "controller": {
            "desired": setpoints_to_dict(controller.desired),
            "in_sync": controller.in_sync,
            "next_change": controller.next_change.isoformat() if controller.next_change else None,
            "override": controller.override.as_dict() if controller.override else None,
            "reconciliation_enabled": controller.reconciliation_enabled,
            "suspended_fields": sorted(controller.fight.suspended),
            "missed_items": sorted(controller.missed),
            "statistics": controller.statistics(),
        },
        "items": [dict(sub.data) | {"id": sid} for sid, sub in entry.subentries.items()],
        "plan_24h": [
            {"at": at.isoformat(), "setpoints": setpoints_to_dict(sp)}
            for at, sp in controller.changes_between(now, now + timedelta(hours=24))
        ],
        "journal_tail": [rec.as_dict() for rec in controller.journal.query(limit=50)],
    }
