"""Constants for Battery Steward."""

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "battery_steward"
LOGGER = logging.getLogger(__package__)

EVENT_CHANGED: Final = "battery_steward_changed"

CONF_KIND: Final = "kind"
KIND_SIMULATOR: Final = "simulator"
KIND_MODBUS: Final = "modbus"
KIND_BRIDGE: Final = "bridge"
CONF_UNIT: Final = "unit_id"
CONF_PROFILE: Final = "profile"
CONF_PROFILE_SETTINGS: Final = "profile_settings"  # data: settings of profiles that have some (marstek)
CONF_POWER_SIGN: Final = "power_sign"
CONF_LAYOUT: Final = "layout"
CONF_REGISTER_MAP: Final = "register_map"  # options: custom map as YAML text
CONF_REGISTER_MAP_FILE: Final = "register_map_file"  # options: or a YAML file in the config directory
CONF_SERIAL: Final = "serial"
CONF_CAPACITY_KWH: Final = "capacity_kwh"
CONF_POLL_INTERVAL: Final = "poll_interval"

DEFAULT_PORT: Final = 502
DEFAULT_UNIT: Final = 1
DEFAULT_CAPACITY_KWH: Final = 10.0
DEFAULT_POLL_INTERVAL_S: Final = 10
MIN_POLL_INTERVAL_S: Final = 5  # developers.home-assistant.io (appropriate-polling): 5 s at the least
MAX_POLL_INTERVAL_S: Final = 300
SIMULATOR_HOST: Final = "127.0.0.1"
DEFAULT_SAFE_STOP_TIMEOUT_S: Final = 60.0
SOURCE_MANUAL: Final = "manual"
SOURCE_API: Final = "api"
SOURCES: Final = (SOURCE_MANUAL, SOURCE_API)


DOCS_BASE_URL: Final = "https://github.com/battery-steward/battery_steward/blob/main/docs/"


def docs_url(page: str) -> str:
    """A documentation page as a link the user can open (forms name no file paths)."""
    return f"{DOCS_BASE_URL}{page}"


def poll_interval(options: dict[str, object]) -> timedelta:
    """The poll interval an entry's options ask for."""
    seconds = options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL_S)
    return timedelta(seconds=float(seconds))  # type: ignore[arg-type]


def signal_state(entry_id: str) -> str:
    """Dispatcher signal sent whenever a battery's controller state changes."""
    return f"{DOMAIN}_controller_{entry_id}"
