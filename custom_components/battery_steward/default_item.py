"""Each battery's `default` item: what holds whenever no other item sets a field.

A battery added from this version on gets one at its first set-up, made from its state then
(automatic mode, the reserve it had); a battery configured before gets one at its first start
after the upgrade, and a repair notice says so. Presets complete the default they stand on.
"""

from types import MappingProxyType

from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant, callback

from .const import LOGGER
from .engine.items import DefaultItem
from .engine.reconcile import restrict
from .engine.serialize import item_from_dict
from .engine.state import Mode, Setpoints
from .repairs import Issue, async_raise_issue
from .runtime import BatteryConfigEntry
from .schedule import SUBENTRY_ITEM, item_store_data

# Config entry minor versions: 1, a battery configured before default items existed (it is told
# when it gets one); 2, created by the config flow since (ConfigFlow.MINOR_VERSION: its default is
# made silently at its first set-up); 3, the battery has been given its default (deleting it
# afterwards is the user's choice and sticks).
MINOR_VERSION_NEW = 2
MINOR_VERSION_WITH_DEFAULT = 3
DEFAULT_TITLE = "Default"


def default_subentry(entry: BatteryConfigEntry) -> ConfigSubentry | None:
    """The subentry holding the battery's default item, if it has one."""
    for subentry in entry.subentries.values():
        if subentry.subentry_type == SUBENTRY_ITEM and subentry.data.get("type") == "default":
            return subentry
    return None


def state_at_setup(entry: BatteryConfigEntry) -> Setpoints:
    """Automatic mode and the reserve the battery has now, as far as the device can be told them."""
    coordinator = entry.runtime_data.coordinator
    info = coordinator.info
    setpoints = Setpoints(
        mode=Mode.AUTO if Mode.AUTO in info.capabilities.modes else None,
        reserve_pct=coordinator.data.reserve_pct if coordinator.data is not None else None,
    )
    return restrict(setpoints, setpoints.set_fields() & info.writable)


def _add_default(hass: HomeAssistant, entry: BatteryConfigEntry, setpoints: Setpoints) -> None:
    item = DefaultItem(id="new", name=DEFAULT_TITLE, setpoints=setpoints)
    hass.config_entries.async_add_subentry(
        entry,
        ConfigSubentry(
            data=MappingProxyType(item_store_data(item)),
            subentry_type=SUBENTRY_ITEM,
            title=DEFAULT_TITLE,
            unique_id=None,
        ),
    )


@callback
def async_ensure_default(hass: HomeAssistant, entry: BatteryConfigEntry) -> None:
    """Give a battery without a default item one made from its state now (after the first read)."""
    if entry.minor_version >= MINOR_VERSION_WITH_DEFAULT:
        return
    upgraded = entry.minor_version < MINOR_VERSION_NEW
    hass.config_entries.async_update_entry(entry, minor_version=MINOR_VERSION_WITH_DEFAULT)
    if default_subentry(entry) is not None or not (setpoints := state_at_setup(entry)).set_fields():
        return
    _add_default(hass, entry, setpoints)
    LOGGER.info("%s: default state added: %s", entry.title, setpoints)
    if upgraded:
        async_raise_issue(
            hass,
            Issue.DEFAULT_ITEM_ADDED,
            entry.entry_id,
            {"battery": entry.title, "setpoints": _describe(setpoints)},
        )


def _describe(setpoints: Setpoints) -> str:
    parts = []
    if setpoints.mode is not None:
        parts.append(f"mode {setpoints.mode.value}")
    if setpoints.reserve_pct is not None:
        parts.append(f"reserve {setpoints.reserve_pct:g} %")
    return ", ".join(parts)


@callback
def async_complete_default(hass: HomeAssistant, entry: BatteryConfigEntry, fields: frozenset[str]) -> None:
    """A preset stands on the default: every field it sets must have a value outside it.

    Fields the default lacks are added from the battery's state now (automatic mode, its reserve);
    a battery without a default gets one made of them.
    """
    now = state_at_setup(entry)
    needed = restrict(now, fields & now.set_fields())
    if not needed.set_fields():
        return
    subentry = default_subentry(entry)
    if subentry is None:
        _add_default(hass, entry, needed)
        return
    default = item_from_dict({**subentry.data, "id": subentry.subentry_id})
    missing = restrict(needed, needed.set_fields() - default.setpoints.set_fields())
    if not missing.set_fields():
        return
    completed = DefaultItem(
        id=default.id,
        name=default.name,
        enabled=default.enabled,
        setpoints=default.setpoints.overlay(missing),
    )
    hass.config_entries.async_update_subentry(entry, subentry, data=item_store_data(completed))
