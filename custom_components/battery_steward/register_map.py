"""Where a custom register map comes from: YAML text in the options, or a file in the config directory."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant

from .const import CONF_PROFILE, CONF_PROFILE_SETTINGS, CONF_REGISTER_MAP, CONF_REGISTER_MAP_FILE
from .device.profiles import PROFILE_CUSTOM, PROFILE_STEWARD, Profile, make_profile
from .device.profiles.custom import RegisterMap, RegisterMapError, parse


def _read(config_dir: str, file: str) -> str:
    """The file's text; only files inside the config directory (symlinks resolved) are read."""
    root = Path(config_dir).resolve()
    path = (root / file).resolve()
    if root not in path.parents:
        raise RegisterMapError("map_file_outside", file=file)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RegisterMapError("map_file_unreadable", file=file, error=str(err)) from err


async def async_load_register_map(hass: HomeAssistant, options: Mapping[str, Any]) -> RegisterMap:
    """The validated map the options point at; RegisterMapError (a translation key) otherwise."""
    text = str(options.get(CONF_REGISTER_MAP) or "").strip()
    file = str(options.get(CONF_REGISTER_MAP_FILE) or "").strip()
    if bool(text) == bool(file):
        raise RegisterMapError("map_source")
    if file:
        text = await hass.async_add_executor_job(_read, hass.config.config_dir, file)
    # Off the event loop: a large document takes a while even within the parser's limits.
    return await hass.async_add_executor_job(parse, text)


async def async_profile(hass: HomeAssistant, data: Mapping[str, Any], options: Mapping[str, Any]) -> Profile:
    """The profile a Modbus entry uses, with its settings; RegisterMapError for a bad custom map."""
    name = str(data.get(CONF_PROFILE, PROFILE_STEWARD))
    if name == PROFILE_CUSTOM:
        return make_profile(name, {"map": await async_load_register_map(hass, options)})
    return make_profile(name, data.get(CONF_PROFILE_SETTINGS, {}))
