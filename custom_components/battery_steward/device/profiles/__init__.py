"""Register-map profiles: one per kind of battery, each with documented capabilities.

See docs/supported-devices.md for the registers each profile uses and its known limitations.
"""

from collections.abc import Mapping
from typing import Any

from .base import Profile, RegisterIO
from .custom import CustomProfile, RegisterMap, RegisterMapError
from .huawei import HuaweiProfile
from .marstek import MarstekProfile, MarstekSettings
from .steward import StewardProfile
from .sungrow import SungrowProfile
from .sunspec import SunSpecProfile, SunSpecSettings
from .victron import VictronProfile, VictronSettings

PROFILE_STEWARD = "steward"
PROFILE_SUNSPEC = "sunspec"
PROFILE_MARSTEK = "marstek"
PROFILE_CUSTOM = "custom"
PROFILE_HUAWEI = "huawei"
PROFILE_SUNGROW = "sungrow"
PROFILE_VICTRON = "victron"
PROFILES: tuple[str, ...] = (
    PROFILE_STEWARD,
    PROFILE_SUNSPEC,
    PROFILE_MARSTEK,
    PROFILE_HUAWEI,
    PROFILE_SUNGROW,
    PROFILE_VICTRON,
    PROFILE_CUSTOM,
)


def make_profile(name: str, settings: Mapping[str, Any] | None = None) -> Profile:
    """The profile called `name`, with its settings (see each profile); ValueError for an unknown name."""
    settings = settings or {}
    if name == PROFILE_STEWARD:
        return StewardProfile()
    if name == PROFILE_SUNSPEC:
        return SunSpecProfile(SunSpecSettings.from_mapping(settings))
    if name == PROFILE_MARSTEK:
        return MarstekProfile(MarstekSettings.from_mapping(settings))
    if name == PROFILE_HUAWEI:
        return HuaweiProfile()
    if name == PROFILE_SUNGROW:
        return SungrowProfile()
    if name == PROFILE_VICTRON:
        return VictronProfile(VictronSettings.from_mapping(settings))
    if name == PROFILE_CUSTOM:
        register_map = settings.get("map")
        if not isinstance(register_map, RegisterMap):
            raise ValueError("the custom profile needs a validated register map (profiles.custom.parse)")
        return CustomProfile(register_map)
    raise ValueError(f"unknown profile {name!r}")


__all__ = [
    "PROFILES",
    "PROFILE_CUSTOM",
    "PROFILE_HUAWEI",
    "PROFILE_MARSTEK",
    "PROFILE_STEWARD",
    "PROFILE_SUNGROW",
    "PROFILE_SUNSPEC",
    "PROFILE_VICTRON",
    "CustomProfile",
    "HuaweiProfile",
    "MarstekProfile",
    "Profile",
    "RegisterIO",
    "RegisterMap",
    "RegisterMapError",
    "StewardProfile",
    "SunSpecProfile",
    "SungrowProfile",
    "VictronProfile",
    "make_profile",
]
