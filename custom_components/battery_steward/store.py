"""What a controller keeps across restarts: journal, override, reconciliation switch."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN
from .engine.items import SeriesItem
from .engine.serialize import item_from_dict, item_to_dict, setpoints_from_dict, setpoints_to_dict
from .engine.state import Setpoints

STORAGE_VERSION = 1
SAVE_DELAY_S = 2.0


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredOverride:
    """Setpoints held until `expires` (None: until cleared)."""

    setpoints: Setpoints
    expires: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe."""
        return {
            "setpoints": setpoints_to_dict(self.setpoints),
            "expires": self.expires.isoformat() if self.expires else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredOverride:
        """Inverse of as_dict."""
        return cls(
            setpoints=setpoints_from_dict(data["setpoints"]),
            expires=datetime.fromisoformat(data["expires"]) if data["expires"] else None,
        )


@dataclass(kw_only=True, slots=True)
class StoredState:
    """Loaded from the Store; defaults for a battery seen for the first time."""

    journal: list[dict[str, Any]] = field(default_factory=list)
    override: StoredOverride | None = None
    reconciliation_enabled: bool = True
    dispatch_enabled: bool = True
    source: str = "manual"
    transport: str = "device"
    series: SeriesItem | None = None
    missed: list[str] = field(default_factory=list)
    last_alive: datetime | None = None
    resume_mode: str | None = None  # the mode before a safe stop, for restore


def _series(data: dict[str, Any] | None) -> SeriesItem | None:
    if not data:
        return None
    item = item_from_dict(data)
    return item if isinstance(item, SeriesItem) else None


class ControllerStore:
    """A versioned Store per battery; saves are coalesced so a busy journal writes rarely."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        """One file per config entry."""
        self._store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}", private=True
        )

    async def async_load(self) -> StoredState:
        """The saved state, or defaults."""
        data = await self._store.async_load()
        if not data:
            return StoredState()
        override = data.get("override")
        return StoredState(
            journal=list(data.get("journal", [])),
            override=StoredOverride.from_dict(override) if override else None,
            reconciliation_enabled=bool(data.get("reconciliation_enabled", True)),
            dispatch_enabled=bool(data.get("dispatch_enabled", True)),
            source=str(data.get("source", "manual")),
            transport=str(data.get("transport", "device")),
            series=_series(data.get("series")),
            missed=list(data.get("missed", [])),
            last_alive=datetime.fromisoformat(data["last_alive"]) if data.get("last_alive") else None,
            resume_mode=data.get("resume_mode"),
        )

    @staticmethod
    def _serialize(snapshot: dict[str, Any]) -> dict[str, Any]:
        override: StoredOverride | None = snapshot["override"]
        series: SeriesItem | None = snapshot.get("series")
        return {
            **snapshot,
            "override": override.as_dict() if override else None,
            "series": item_to_dict(series) if series else None,
        }

    def async_save_later(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        """Save within a couple of seconds, once however many changes come meanwhile."""
        self._store.async_delay_save(lambda: self._serialize(snapshot()), SAVE_DELAY_S)

    async def async_save_now(self, snapshot: dict[str, Any]) -> None:
        """Save at once (unload)."""
        await self._store.async_save(self._serialize(snapshot))

    async def async_remove(self) -> None:
        """Forget everything (entry removed)."""
        await self._store.async_remove()
