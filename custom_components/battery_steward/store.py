"""What a controller keeps across restarts: journal, override, reconciliation switch, gate.

Every field is validated on load. A field that cannot be read (wrong type, out of range, an
override the battery would refuse) is dropped on its own with a WARNING and a repair issue that
names it; the rest is kept and set-up goes on. When the dispatch gate or a safe stop's state
cannot be read back (the file deleted, truncated — Home Assistant then moves it aside and loads
nothing — or corrupted), the gate starts closed and a fixable repair issue asks the user to
confirm before anything is written (fail closed; docs/reliability.md).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
import logging
from typing import Any, Protocol, override

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, SOURCE_MANUAL, SOURCES, TRANSPORT_DEVICE, TRANSPORTS, signal_state
from .device.driver import DeviceError, DeviceInfo
from .engine.items import SeriesItem
from .engine.journal import JournalRecord
from .engine.serialize import item_from_dict, item_to_dict, setpoints_from_dict, setpoints_to_dict
from .engine.state import Mode, Setpoints
from .engine.validation import validate_item
from .repairs import Issue, async_clear_issue, async_raise_issue

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 1
# 1.1: keys added over time (gate, source, transport, series, resume mode), each missing in files
# written before it existed. 1.2: every key is always written, so a missing one was lost.
# 1.3: the override names the item each of its fields came from (`sources`, run_item).
STORAGE_MINOR_VERSION = 3
SAVE_DELAY_S = 2.0
# What one of these errors means in a stored value: it cannot be read.
_UNREADABLE = (KeyError, TypeError, ValueError, AttributeError, OverflowError, DeviceError)
# Keys that appeared after the dispatch gate: a 1.1 file with any of them also had the gate.
_AFTER_GATE = ("source", "transport", "series", "resume_mode")
# What the gate issue is about: without these, nothing tells whether a safe stop left it closed.
GATE_FIELDS = ("dispatch_enabled", "resume_mode")


class GateHolder(Protocol):
    """What the gate issue follows: a controller's entry and gate."""

    entry_id: str
    dispatch_enabled: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredOverride:
    """Setpoints held until `expires` (None: until cleared).

    `sources`: per field, the schedule item the value came from (run_item), so the journal still
    names it after a restart; a field not in it is named `override`.
    """

    setpoints: Setpoints
    expires: datetime | None
    sources: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe."""
        return {
            "setpoints": setpoints_to_dict(self.setpoints),
            "expires": self.expires.isoformat() if self.expires else None,
            "sources": dict(self.sources),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredOverride:
        """Inverse of as_dict."""
        return cls(
            setpoints=setpoints_from_dict(data["setpoints"]),
            expires=datetime.fromisoformat(data["expires"]) if data["expires"] else None,
            sources=dict(data.get("sources") or {}),
        )


@dataclass(kw_only=True, slots=True)
class StoredState:
    """Loaded from the Store; defaults for a battery seen for the first time."""

    journal: list[dict[str, Any]] = field(default_factory=list)
    override: StoredOverride | None = None
    reconciliation_enabled: bool = True
    dispatch_enabled: bool = True
    source: str = SOURCE_MANUAL
    transport: str = TRANSPORT_DEVICE
    series: SeriesItem | None = None
    missed: list[str] = field(default_factory=list)
    last_alive: datetime | None = None
    resume_mode: str | None = None  # the mode before a safe stop, for restore
    # What could not be read back (field names, in file order), and whether that takes the gate.
    lost: list[str] = field(default_factory=list)
    gate_lost: bool = False


def _aware(value: object) -> datetime:
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    if parsed is None or parsed.tzinfo is None:
        raise ValueError(f"not an ISO date-time with an offset: {value!r}")
    return parsed


def _optional_aware(value: object) -> datetime | None:
    return None if value is None else _aware(value)


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"not true or false: {value!r}")
    return value


def _one_of(value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"not one of {choices}: {value!r}")
    return value


def _resume_mode(value: object) -> str | None:
    return None if value is None else _one_of(value, tuple(Mode))


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"not a list of strings: {value!r}")
    return list(value)


def _sources(value: object, setpoints: Setpoints) -> dict[str, str]:
    """Which item each field of an override came from: text for fields the override sets."""
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise TypeError(f"not a map of fields to items: {value!r}")
    if unknown := set(value) - setpoints.set_fields():
        raise ValueError(f"items named for fields the override does not set: {sorted(unknown)}")
    return dict(value)


def _journal_record(value: object) -> dict[str, Any]:
    """A record as stored, if every field of it reads back (and its instants are comparable)."""
    if not isinstance(value, dict):
        raise TypeError("not a record")
    record = JournalRecord.from_dict(value)
    if record.executed.tzinfo is None or (record.scheduled and record.scheduled.tzinfo is None):
        raise ValueError("an instant without an offset")
    if not all(isinstance(text, str | None) for text in (record.error, record.note)):
        raise TypeError("error or note is not text")
    return record.as_dict()


class _Reader:
    """Reads one field at a time; a field that fails is dropped and remembered."""

    def __init__(self, data: dict[str, Any], info: DeviceInfo | None) -> None:
        self.data = data
        self.info = info
        self.lost: list[str] = []

    def get[T](self, key: str, parse: Callable[[Any], T], default: T) -> T:
        if key not in self.data:
            self.lost.append(key)
            return default
        try:
            return parse(self.data[key])
        except _UNREADABLE as err:
            _LOGGER.warning("Stored %s could not be read and is dropped: %s", key, err)
            self.lost.append(key)
            return default

    def override(self, value: object) -> StoredOverride | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("setpoints"), dict):
            raise TypeError("not an override")
        setpoints = setpoints_from_dict(value["setpoints"])
        stored = StoredOverride(
            setpoints=setpoints,
            expires=_optional_aware(value.get("expires")),
            sources=_sources(value.get("sources", {}), setpoints),
        )
        if self.info is not None:
            self.info.check(stored.setpoints)  # what the battery would refuse on every run
        return stored

    def series(self, value: object) -> SeriesItem | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise TypeError("not a series")
        item = item_from_dict(value)
        if not isinstance(item, SeriesItem):
            raise TypeError("not a series")
        if issues := validate_item(item, self.info.limits if self.info else None):
            raise ValueError(issues[0].message)
        return item

    def journal(self, value: object) -> list[dict[str, Any]]:
        """The records that read back, in order; one that does not is dropped alone."""
        if not isinstance(value, list):
            raise TypeError("not a list of records")
        kept: list[dict[str, Any]] = []
        for raw in value:
            try:
                record = _journal_record(raw)
            except _UNREADABLE:
                continue
            if kept and record["seq"] <= kept[-1]["seq"]:
                continue  # sequence numbers must keep increasing, or they would be given again
            kept.append(record)
        if dropped := len(value) - len(kept):
            _LOGGER.warning("%d of %d stored journal records could not be read", dropped, len(value))
            self.lost.append(f"journal ({dropped} of {len(value)} records)")
        return kept


def parse_stored(data: object, info: DeviceInfo | None = None) -> StoredState:
    """Validate every field of a 1.2 store; what fails falls back to its default and is listed."""
    if not isinstance(data, dict):
        return StoredState(dispatch_enabled=False, lost=["everything"], gate_lost=True)
    r = _Reader(data, info)
    state = StoredState(
        journal=r.get("journal", r.journal, []),
        override=r.get("override", r.override, None),
        reconciliation_enabled=r.get("reconciliation_enabled", _bool, True),
        dispatch_enabled=r.get("dispatch_enabled", _bool, False),
        source=r.get("source", lambda v: _one_of(v, SOURCES), SOURCE_MANUAL),
        transport=r.get("transport", lambda v: _one_of(v, TRANSPORTS), TRANSPORT_DEVICE),
        series=r.get("series", r.series, None),
        missed=r.get("missed", _strings, []),
        last_alive=r.get("last_alive", _optional_aware, None),
        resume_mode=r.get("resume_mode", _resume_mode, None),
    )
    state.lost = r.lost
    state.gate_lost = any(name in r.lost for name in GATE_FIELDS)
    if state.gate_lost:
        state.dispatch_enabled = False
    return state


def migrate_1_1(data: object) -> object:
    """A 1.1 file as 1.2: the keys it was written without get the values that held then.

    Before the dispatch gate existed it was open; before a source, transport, series or resume
    mode existed they were manual, device, none and none. A 1.1 file that has a key from after
    the gate but not the gate itself lost it, so the gate stays missing (and closes).
    """
    if not isinstance(data, dict):
        return data
    migrated = {
        "journal": [],
        "override": None,
        "reconciliation_enabled": True,
        "source": SOURCE_MANUAL,
        "transport": TRANSPORT_DEVICE,
        "series": None,
        "missed": [],
        "last_alive": None,
        "resume_mode": None,
        **data,
    }
    if "dispatch_enabled" not in data and not any(key in data for key in _AFTER_GATE):
        migrated["dispatch_enabled"] = True
    return migrated


def migrate_1_2(data: object) -> object:
    """A 1.2 file as 1.3: an override saved then came from no item (`sources` empty).

    (run_item's item was not kept: its fields were named `override` after a restart, as now.)
    """
    if isinstance(data, dict) and isinstance(override := data.get("override"), dict):
        return data | {"override": {"sources": {}, **override}}
    return data


class _VersionedStore(Store[dict[str, Any]]):
    """The Store with its migrations (Home Assistant calls them on an older file)."""

    @override
    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        if old_major_version != 1:
            raise NotImplementedError
        data: object = old_data
        if old_minor_version < 2:
            data = migrate_1_1(data)
        return migrate_1_2(data)  # type: ignore[return-value]


@callback
def async_follow_gate(hass: HomeAssistant, controller: GateHolder) -> CALLBACK_TYPE:
    """Clear the gate issue once dispatch is open again, whichever way it was opened.

    (The repair's confirmation, the dispatch switch, or a restore.)
    """

    @callback
    def _changed() -> None:
        if controller.dispatch_enabled:
            async_clear_issue(hass, Issue.GATE_UNCONFIRMED, controller.entry_id)

    return async_dispatcher_connect(hass, signal_state(controller.entry_id), _changed)


class ControllerStore:
    """A versioned Store per battery; saves are coalesced so a busy journal writes rarely.

    `known`: the battery ran before (its entities are registered), so a missing file was lost.
    `info`: the device, to refuse a stored override it would refuse.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry_id: str,
        *,
        name: str = "",
        info: DeviceInfo | None = None,
        known: bool = False,
    ) -> None:
        """One file per config entry."""
        self.hass = hass
        self.entry_id = entry_id
        self.name = name
        self.info = info
        self.known = known
        self._store = _VersionedStore(
            hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}", private=True, minor_version=STORAGE_MINOR_VERSION
        )
        # The heartbeat in a file of its own: saved every 30 s, it would otherwise rewrite the
        # whole state (a journal of up to 2,000 records) each time, on the event loop.
        self._alive: Store[dict[str, Any]] = Store(hass, 1, f"{DOMAIN}.{entry_id}.alive", private=True)
        self._loaded: StoredState | None = None

    async def async_load(self) -> StoredState:
        """The saved state, validated (loaded once; later calls return the same state).

        Its heartbeat is the later of the state's own and the heartbeat file's.
        """
        if self._loaded is None:
            state = await self._async_load()
            if (beat := await self._async_load_heartbeat()) is not None and (
                state.last_alive is None or beat > state.last_alive
            ):
                state = replace(state, last_alive=beat)
            self._loaded = state
            self._report(state)
        return self._loaded

    async def _async_load_heartbeat(self) -> datetime | None:
        """The heartbeat file's time; None when missing or unreadable (the state's own then holds)."""
        try:
            data = await self._alive.async_load()
            return None if data is None else _aware(data["last_alive"])
        except Exception as err:
            _LOGGER.warning("%s: the heartbeat could not be read: %s", self.name, err)
            return None

    def beat_later(self) -> None:
        """Save the heartbeat (now) within a couple of seconds, in its own file."""
        self._alive.async_delay_save(lambda: {"last_alive": dt_util.utcnow().isoformat()}, SAVE_DELAY_S)

    async def _async_load(self) -> StoredState:
        try:
            data = await self._store.async_load()
        except Exception as err:  # an unreadable file must not take the battery down
            _LOGGER.warning("%s: the stored state could not be read: %s", self.name, err)
            return parse_stored(None)
        if data is None:
            if self.known:
                _LOGGER.warning("%s: the stored state is missing", self.name)
                return parse_stored(None)
            return StoredState()
        return parse_stored(data, self.info)

    def _report(self, state: StoredState) -> None:
        if state.lost:
            async_raise_issue(
                self.hass,
                Issue.STORE_DAMAGED,
                self.entry_id,
                {"battery": self.name, "lost": ", ".join(state.lost)},
            )
        if state.gate_lost:
            _LOGGER.warning(
                "%s: whether dispatch was stopped cannot be read back; nothing is written until confirmed",
                self.name,
            )
            async_raise_issue(self.hass, Issue.GATE_UNCONFIRMED, self.entry_id, {"battery": self.name})

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
        await self._alive.async_remove()
        for key in (Issue.STORE_DAMAGED, Issue.GATE_UNCONFIRMED):
            async_clear_issue(self.hass, key, self.entry_id)
