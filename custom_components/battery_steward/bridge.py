"""Entity bridge: a battery that another integration already provides as entities.

Reads come from the source entities' states, writes are Home Assistant service calls
(`number.set_value`, `select.select_option` and their `input_*` equivalents). The controller sees an
ordinary BatteryDriver, so schedules, reconciliation, overrides, fight detection and the journal work
unchanged; what the bridge cannot write is left out of its capabilities.
"""

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN, UnitOfPower
from homeassistant.core import (
    CALLBACK_TYPE,
    CoreState,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util.unit_conversion import PowerConverter
import voluptuous as vol

from .const import (
    CONF_MODE_ENTITY,
    CONF_MODE_OPTIONS,
    CONF_POWER_CHARGE_POSITIVE,
    CONF_POWER_ENTITY,
    CONF_RATED_POWER_W,
    CONF_RESERVE_ENTITY,
    CONF_SOC_ENTITY,
    DEFAULT_RATED_POWER_W,
    DOMAIN,
)
from .device.driver import (
    Capabilities,
    DeviceConnectionError,
    DeviceInfo,
    DeviceResponseError,
)
from .engine.state import Limits, Measurements, Mode, Setpoints

SOC_DOMAINS = ["sensor", "input_number"]
POWER_DOMAINS = ["sensor", "input_number"]
RESERVE_DOMAINS = ["number", "input_number"]
MODE_DOMAINS = ["select", "input_select"]
SERVICE_SET_VALUE = "set_value"
SERVICE_SELECT_OPTION = "select_option"

# A state change of a source entity asks for a read; reads are cheap, so the cooldown is short.
REFRESH_COOLDOWN_S = 1.0

_NOT_THERE = (STATE_UNAVAILABLE, STATE_UNKNOWN)


@dataclass(frozen=True, kw_only=True, slots=True)
class BridgeConfig:
    """Which entities stand for the battery, and which select option is which of our modes."""

    soc_entity: str
    power_entity: str | None = None
    power_charge_positive: bool = False
    reserve_entity: str | None = None
    mode_entity: str | None = None
    mode_options: Mapping[str, str] | None = None
    rated_power_w: float = DEFAULT_RATED_POWER_W

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> BridgeConfig:
        """From config entry data."""
        return cls(
            soc_entity=data[CONF_SOC_ENTITY],
            power_entity=data.get(CONF_POWER_ENTITY),
            power_charge_positive=bool(data.get(CONF_POWER_CHARGE_POSITIVE, False)),
            reserve_entity=data.get(CONF_RESERVE_ENTITY),
            mode_entity=data.get(CONF_MODE_ENTITY),
            mode_options=dict(data.get(CONF_MODE_OPTIONS) or {}),
            rated_power_w=float(data.get(CONF_RATED_POWER_W, DEFAULT_RATED_POWER_W)),
        )

    @property
    def entity_ids(self) -> list[str]:
        """Every source entity."""
        candidates = (self.soc_entity, self.power_entity, self.reserve_entity, self.mode_entity)
        return [entity for entity in candidates if entity]

    @property
    def modes(self) -> dict[Mode, str]:
        """Our modes that have an option, in our order."""
        if not self.mode_entity or not self.mode_options:
            return {}
        return {mode: self.mode_options[mode.value] for mode in Mode if self.mode_options.get(mode.value)}


def select_options(state: State | None) -> list[str]:
    """The options a select (or input_select) offers now."""
    if state is None:
        return []
    return [str(option) for option in state.attributes.get("options") or []]


class EntityBridgeDriver:
    """A BatteryDriver over another integration's entities.

    The sources have no enable switch: the bridge cannot be disabled (capabilities.enable is
    False), so a safe stop skips that step and the bridge always reads enabled.
    """

    def __init__(
        self, hass: HomeAssistant, config: BridgeConfig, *, entry_id: str, serial: str, name: str
    ) -> None:
        """Nothing is read until identify."""
        self.hass = hass
        self.config = config
        self.entry_id = entry_id
        self.serial = serial
        self.name = name
        self.info: DeviceInfo | None = None
        self._issues: set[str] = set()

    # ---------------------------------------------------------------- BatteryDriver

    async def identify(self) -> DeviceInfo:
        """Capabilities from the configuration, names from the source device, range from the number."""
        config = self.config
        manufacturer, model = "Entity bridge", "Entity bridge"
        if (entry := er.async_get(self.hass).async_get(config.soc_entity)) is not None and entry.device_id:
            device = dr.async_get(self.hass).async_get(entry.device_id)
            if isinstance(device, dr.DeviceEntry):
                manufacturer = device.manufacturer or manufacturer
                model = device.model or model
        reserve_min, reserve_max = 0.0, 100.0
        if config.reserve_entity and (state := self.hass.states.get(config.reserve_entity)) is not None:
            reserve_min = float(state.attributes.get("min", reserve_min))
            reserve_max = float(state.attributes.get("max", reserve_max))
        self.info = DeviceInfo(
            manufacturer=manufacturer,
            model=model,
            serial=self.serial,
            firmware="",
            capacity_kwh=0.0,
            limits=Limits(
                max_charge_w=config.rated_power_w,
                max_discharge_w=config.rated_power_w,
                max_apparent_va=config.rated_power_w,
                reserve_min_pct=reserve_min,
                reserve_max_pct=reserve_max,
            ),
            # Only what the entities offer: a reserve, the mapped modes, and perhaps a power reading.
            capabilities=Capabilities(
                modes=frozenset(config.modes),
                reserve=bool(config.reserve_entity),
                power_setpoint=False,
                active_power=bool(config.power_entity),
                reactive_power=False,
                enable=False,
                voltage=False,
                temperature=False,
                energy=False,
            ),
        )
        return self.info

    async def read(self) -> Measurements:
        """The source entities' states; any of them unavailable makes the battery unavailable."""
        config = self.config
        self._update_issues()
        soc = self._number(config.soc_entity)
        power = 0.0
        if config.power_entity:
            power = self._power(config.power_entity)
        reserve = 0.0
        if config.reserve_entity:
            reserve = self._number(config.reserve_entity)
        mode: Mode | None = None  # no mode entity: no mode to name
        if config.mode_entity:
            option = self._state(config.mode_entity).state
            mode = next((ours for ours, theirs in config.modes.items() if theirs == option), None)
        return Measurements(
            soc_pct=soc,
            active_power_w=power,
            reactive_power_var=0.0,
            mode=mode,
            reserve_pct=reserve,
            power_setpoint_w=0.0,
            reactive_setpoint_var=0.0,
            enabled=True,
        )

    async def write(self, setpoints: Setpoints) -> None:
        """Service calls for the fields set: reserve first, then mode."""
        assert self.info is not None
        self.info.check(setpoints)
        config = self.config
        if setpoints.reserve_pct is not None and config.reserve_entity:
            self._state(config.reserve_entity)
            await self._call(config.reserve_entity, SERVICE_SET_VALUE, {"value": setpoints.reserve_pct})
        if setpoints.mode is not None and config.mode_entity:
            option = config.modes[setpoints.mode]
            if option not in select_options(self._state(config.mode_entity)):
                self._update_issues()
                raise DeviceResponseError(f"{config.mode_entity} no longer offers the option {option!r}")
            await self._call(config.mode_entity, SERVICE_SELECT_OPTION, {"option": option})

    async def set_enabled(self, enabled: bool) -> None:
        """Nothing: the sources have no enable switch (capabilities.enable is False)."""

    async def close(self) -> None:
        """Withdraw the repair issues this battery raised."""
        for issue_id in self._issues:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        self._issues.clear()

    # ---------------------------------------------------------------- helpers

    def _state(self, entity_id: str) -> State:
        state = self.hass.states.get(entity_id)
        if state is None:
            raise DeviceConnectionError(f"{entity_id} does not exist")
        if state.state in _NOT_THERE:
            raise DeviceConnectionError(f"{entity_id} is {state.state}")
        return state

    def _number(self, entity_id: str) -> float:
        state = self._state(entity_id)
        try:
            return float(state.state)
        except ValueError as err:
            raise DeviceResponseError(f"{entity_id} is not a number: {state.state!r}") from err

    def _power(self, entity_id: str) -> float:
        """Watts, + discharge - charge, whatever unit and sign the source uses."""
        value = self._number(entity_id)
        unit = self._state(entity_id).attributes.get("unit_of_measurement")
        if unit in PowerConverter.VALID_UNITS and unit != UnitOfPower.WATT:
            value = PowerConverter.convert(value, unit, UnitOfPower.WATT)
        return -value if self.config.power_charge_positive else value

    async def _call(self, entity_id: str, service: str, data: dict[str, Any]) -> None:
        domain = entity_id.split(".", 1)[0]
        try:
            await self.hass.services.async_call(
                domain, service, {"entity_id": entity_id, **data}, blocking=True
            )
        except (HomeAssistantError, vol.Invalid) as err:
            raise DeviceResponseError(f"{domain}.{service} on {entity_id} failed: {err}") from err

    @callback
    def _update_issues(self) -> None:
        """Repair issues for missing source entities and mapped options the select no longer offers."""
        wanted: dict[str, tuple[str, dict[str, str]]] = {}
        for entity_id in self.config.entity_ids:
            # While Home Assistant starts, the other integration may simply not be loaded yet.
            if self.hass.state is CoreState.running and self.hass.states.get(entity_id) is None:
                wanted[f"bridge_missing_entity_{self.entry_id}_{entity_id}"] = (
                    "bridge_missing_entity",
                    {"battery": self.name, "entity": entity_id},
                )
        mode_state = self.hass.states.get(self.config.mode_entity) if self.config.mode_entity else None
        if mode_state is not None and mode_state.state not in _NOT_THERE:
            offered = select_options(mode_state)
            for mode, option in self.config.modes.items():
                if option not in offered:
                    wanted[f"bridge_missing_option_{self.entry_id}_{mode.value}"] = (
                        "bridge_missing_option",
                        {
                            "battery": self.name,
                            "entity": mode_state.entity_id,
                            "mode": mode.value,
                            "option": option,
                        },
                    )
        for issue_id in self._issues - wanted.keys():
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
        for issue_id, (key, p) in wanted.items():
            if issue_id in self._issues:
                continue  # raised already (this runs on every read)
            if key == "bridge_missing_entity":
                ir.async_create_issue(
                    self.hass,
                    DOMAIN,
                    issue_id,
                    is_fixable=False,
                    is_persistent=False,
                    severity=ir.IssueSeverity.ERROR,
                    translation_key="bridge_missing_entity",
                    translation_placeholders={"battery": p["battery"], "entity": p["entity"]},
                )
            else:
                ir.async_create_issue(
                    self.hass,
                    DOMAIN,
                    issue_id,
                    is_fixable=False,
                    is_persistent=False,
                    severity=ir.IssueSeverity.ERROR,
                    translation_key="bridge_missing_option",
                    translation_placeholders={
                        "battery": p["battery"],
                        "entity": p["entity"],
                        "mode": p["mode"],
                        "option": p["option"],
                    },
                )
        self._issues = set(wanted)


@callback
def async_follow_sources(
    hass: HomeAssistant,
    driver: EntityBridgeDriver,
    request_refresh: Callable[[], Coroutine[Any, Any, None]],
) -> CALLBACK_TYPE:
    """Ask for a read whenever a source entity changes, so drift is seen at once."""

    @callback
    def _changed(event: Event[EventStateChangedData]) -> None:
        hass.async_create_task(request_refresh(), eager_start=True)

    return async_track_state_change_event(hass, driver.config.entity_ids, _changed)
