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
CONF_PROFILE_SETTINGS: Final = (
    "profile_settings"  # data: settings of profiles that have some (marstek, victron)
)
CONF_POWER_SIGN: Final = "power_sign"
CONF_LAYOUT: Final = "layout"
CONF_MAX_POWER_W: Final = "max_power_w"  # profile setting (victron): the inverter's rating
CONF_REGISTER_MAP: Final = "register_map"  # options: custom map as YAML text
CONF_REGISTER_MAP_FILE: Final = "register_map_file"  # options: or a YAML file in the config directory
CONF_SERIAL: Final = "serial"
CONF_CAPACITY_KWH: Final = "capacity_kwh"
CONF_POLL_INTERVAL: Final = "poll_interval"
CONF_ADMIN_ONLY: Final = "admin_only"  # options: only administrators control this battery
# Options: what a clean stop of Home Assistant (or an unload of the entry) does to the battery.
CONF_ON_STOP: Final = "on_stop"
ON_STOP_LEAVE: Final = "leave"  # leave the battery as planned (default)
ON_STOP_HAND_BACK: Final = "hand_back"  # write auto mode: the battery's own control
ON_STOP_CHOICES: Final = (ON_STOP_LEAVE, ON_STOP_HAND_BACK)

DEFAULT_PORT: Final = 502
DEFAULT_UNIT: Final = 1
DEFAULT_CAPACITY_KWH: Final = 10.0
DEFAULT_POLL_INTERVAL_S: Final = 10
MIN_POLL_INTERVAL_S: Final = 5  # developers.home-assistant.io (appropriate-polling): 5 s at the least
MAX_POLL_INTERVAL_S: Final = 300
SIMULATOR_HOST: Final = "127.0.0.1"
DEFAULT_SAFE_STOP_TIMEOUT_S: Final = 60.0
# Controller options (the options flow's "controller" fields; ControllerSettings.from_options).
CONF_PATROL_MIN: Final = "patrol_interval_min"
CONF_FIGHT_MAX: Final = "fight_max_corrections"
CONF_FIGHT_WINDOW_MIN: Final = "fight_window_min"
CONF_VERIFY_S: Final = "verify_timeout_s"
CONF_JOURNAL_SIZE: Final = "journal_size"
CONF_SAFE_STOP_THRESHOLD_PCT: Final = "safe_stop_threshold_pct"
CONF_SAFE_STOP_TIMEOUT_S: Final = "safe_stop_timeout_s"
DEFAULT_PATROL_MIN: Final = 15
DEFAULT_FIGHT_MAX: Final = 3
DEFAULT_FIGHT_WINDOW_MIN: Final = 60
DEFAULT_VERIFY_S: Final = 30
DEFAULT_JOURNAL_SIZE: Final = 2000
DEFAULT_SAFE_STOP_THRESHOLD_PCT: Final = 1
# Schedule API options (api/: the fetcher and the poster).
CONF_API_URL: Final = "api_url"
CONF_API_USERNAME: Final = "api_username"
CONF_API_PASSWORD: Final = "api_password"  # noqa: S105 - the option's key, not a password
CONF_API_PLANT: Final = "api_plant"
CONF_API_TOMORROW_HOUR: Final = "api_tomorrow_hour"
CONF_API_POSTING: Final = "api_posting"
DEFAULT_TOMORROW_HOUR: Final = 13
# Entity bridge data (bridge.py): the source entities and the plant's rating.
CONF_SOC_ENTITY: Final = "soc_entity"
CONF_POWER_ENTITY: Final = "power_entity"
CONF_POWER_CHARGE_POSITIVE: Final = "power_charge_positive"
CONF_RESERVE_ENTITY: Final = "reserve_entity"
CONF_MODE_ENTITY: Final = "mode_entity"
CONF_MODE_OPTIONS: Final = "mode_options"
CONF_RATED_POWER_W: Final = "rated_power_w"
CONF_MAPPING: Final = (
    "mapping"  # a full mapping (bridge_spec), e.g. from a preset; overrides the fields above
)
CONF_PRESET: Final = "preset"  # which preset filled the mapping in, if any
DEFAULT_RATED_POWER_W: Final = 5000
SOURCE_MANUAL: Final = "manual"
SOURCE_API: Final = "api"
SOURCE_ENTITY: Final = "entity"  # a forecast attribute of another integration's entity (plan_feeds.py)
SOURCES: Final = (SOURCE_MANUAL, SOURCE_API, SOURCE_ENTITY)


def poll_interval(options: dict[str, object], keep_alive_s: float | None = None) -> timedelta:
    """The poll interval an entry's options ask for, at most a device's keep-alive period.

    A profile whose remote control times out (Huawei's forcible command) is kept alive from the
    polls (device/profiles/base.py): a longer interval would let a forced mode lapse.
    """
    seconds = float(options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL_S))  # type: ignore[arg-type]
    return timedelta(seconds=seconds if keep_alive_s is None else min(seconds, keep_alive_s))


DOCS_BASE_URL: Final = "https://github.com/battery-steward/battery_steward/blob/main/docs/"


def docs_url(page: str) -> str:
    """A documentation page as a link the user can open (forms name no file paths)."""
    return f"{DOCS_BASE_URL}{page}"


def signal_state(entry_id: str) -> str:
    """Dispatcher signal sent whenever a battery's controller state changes."""
    return f"{DOMAIN}_controller_{entry_id}"


TRANSPORT_DEVICE: Final = "device"
TRANSPORT_EMULATOR: Final = "emulator"
TRANSPORTS: Final = (TRANSPORT_DEVICE, TRANSPORT_EMULATOR)
