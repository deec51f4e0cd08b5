"""Diagnostics: configuration, last reading, plan preview, journal tail, controller state."""

from collections.abc import Iterable
from dataclasses import asdict
from datetime import timedelta
import re
from typing import Any
from urllib.parse import urlsplit

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_HOST, CONF_PASSWORD, CONF_PORT, CONF_TOKEN, CONF_USERNAME
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


# Shorter values are not looked for inside text: they would match ordinary words and numbers.
MIN_VALUE_LENGTH = 4


def sensitive_values(entry: BatteryConfigEntry) -> list[str]:
    """The values redacted wherever they appear, inside text too (an error naming the address).

    The battery's host and host:port, the API's URL, address and host, the API credentials and
    the serial numbers (configured, read from the device, in the title).
    """
    data, options = entry.data, entry.options
    values: set[str] = {str(data.get(CONF_SERIAL) or ""), str(entry.unique_id or "")}
    runtime = getattr(entry, "runtime_data", None)
    if runtime is not None:
        values.add(runtime.coordinator.info.serial)
        driver = runtime.driver
        if (host := getattr(driver, "host", None)) is not None:
            values |= {str(host), f"{host}:{getattr(driver, 'port', '')}"}
    if host := data.get(CONF_HOST):
        values |= {str(host), f"{host}:{data.get(CONF_PORT, '')}"}
    if url := str(options.get("api_url") or ""):
        parts = urlsplit(url)
        values |= {url, url.rstrip("/"), parts.netloc, parts.hostname or ""}
    values |= {str(options.get("api_username") or ""), str(options.get("api_password") or "")}
    return sorted((v for v in values if len(v) >= MIN_VALUE_LENGTH), key=len, reverse=True)


def redact_values(node: Any, values: Iterable[str]) -> Any:
    """`node` with every occurrence of the values (any case) in its strings replaced by REDACTED."""
    pattern = "|".join(re.escape(value) for value in values)
    if not pattern:
        return node
    compiled = re.compile(pattern, re.IGNORECASE)

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return compiled.sub(REDACTED, value)
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [walk(item) for item in value]
        return value

    return walk(node)


def _redact(entry: BatteryConfigEntry, snapshot: dict[str, Any]) -> dict[str, Any]:
    """Redacted by key (whole fields), then by value (inside every remaining string)."""
    redacted: dict[str, Any] = redact_values(async_redact_data(snapshot, TO_REDACT), sensitive_values(entry))
    return redacted


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: BatteryConfigEntry
) -> dict[str, Any]:
    """Everything needed to understand what the controller did, with identifiers redacted."""
    return _redact(entry, _snapshot(entry))


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
    return _redact(entry, snapshot)


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
