"""Register-map profiles: one per kind of battery, each with documented capabilities.

See docs/supported-devices.md for the registers each profile uses and its known limitations.
"""

from .base import Profile, RegisterIO
from .steward import StewardProfile

PROFILE_STEWARD = "steward"
PROFILE_SUNSPEC = "sunspec"
PROFILE_MARSTEK = "marstek"
PROFILE_CUSTOM = "custom"
PROFILES: tuple[str, ...] = (PROFILE_STEWARD, PROFILE_SUNSPEC, PROFILE_MARSTEK, PROFILE_CUSTOM)

__all__ = [
    "PROFILES",
    "PROFILE_CUSTOM",
    "PROFILE_MARSTEK",
    "PROFILE_STEWARD",
    "PROFILE_SUNSPEC",
    "Profile",
    "RegisterIO",
    "StewardProfile",
]
