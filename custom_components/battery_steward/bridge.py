"""Entity bridge: a battery that another integration already provides as entities.

Reads come from the source entities' states, writes are Home Assistant service calls: the steps
of the mapping (`bridge_spec.py`) — select options, numbers, switches, actions with data, button
presses — in their order, with keep-alive re-sending for modes that need it. The controller sees
an ordinary BatteryDriver, so schedules, reconciliation, overrides, fight detection and the journal
work unchanged; what the mapping cannot write is left out of its capabilities.
"""

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
from typing import Any

from homeassistant.const import (
    ATTR_DOMAIN,
    ATTR_SERVICE,
    EVENT_SERVICE_REGISTERED,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    UnitOfPower,
)
from homeassistant.core import (
    CALLBACK_TYPE,
    CoreState,
    Event,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event, async_track_time_interval
from homeassistant.util.unit_conversion import PowerConverter
import voluptuous as vol

from .bridge_spec import (
    REF_CHARGE,
    REF_DEVICE,
    REF_DISCHARGE,
    REF_MAGNITUDE,
    REF_RESERVE,
    REF_SIGNED,
    REF_SIGNED_CHARGE,
    SHAPE_MAGNITUDE,
    SHAPE_MODE,
    SHAPE_SIGNED,
    SHAPE_SPLIT,
    STEP_ACTION,
    STEP_NUMBER,
    STEP_SELECT,
    STEP_SWITCH,
    BridgeSpec,
    BridgeSpecError,
    Step,
    fill_tokens,
    legacy_spec,
)
from .const import (
    CONF_MAPPING,
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
    DeviceError,
    DeviceInfo,
    DeviceResponseError,
    UnsupportedDeviceError,
    UnsupportedFieldError,
)
from .engine.state import Limits, Measurements, Mode, Setpoints
from .repairs import Issue, async_clear_issue, async_raise_issue

_LOGGER = logging.getLogger(__name__)

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
    """Which entities stand for the battery: the hand-made fields, or a full mapping."""

    soc_entity: str
    power_entity: str | None = None
    power_charge_positive: bool = False
    reserve_entity: str | None = None
    mode_entity: str | None = None
    mode_options: Mapping[str, str] | None = None
    rated_power_w: float = DEFAULT_RATED_POWER_W
    mapping: Mapping[str, Any] | None = None

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
            mapping=data.get(CONF_MAPPING) or None,
        )

    @property
    def spec(self) -> BridgeSpec:
        """The mapping the driver follows (BridgeSpecError when a stored mapping is invalid)."""
        if self.mapping:
            return BridgeSpec.from_dict(self.mapping)
        return legacy_spec(
            soc_entity=self.soc_entity,
            power_entity=self.power_entity,
            power_charge_positive=self.power_charge_positive,
            reserve_entity=self.reserve_entity,
            mode_entity=self.mode_entity,
            mode_options=self.mode_options,
        )

    @property
    def entity_ids(self) -> list[str]:
        """Every source entity."""
        try:
            return self.spec.entity_ids
        except BridgeSpecError:
            return [self.soc_entity]


def select_options(state: State | None) -> list[str]:
    """The options a select (or input_select) offers now."""
    if state is None:
        return []
    return [str(option) for option in state.attributes.get("options") or []]


def _plain_number(value: float) -> float | int:
    """Whole numbers as int: actions often validate an integer (e.g. a power in W)."""
    return int(value) if float(value).is_integer() else value


class EntityBridgeDriver:
    """A BatteryDriver over another integration's entities.

    The sources have no enable switch: the bridge cannot be disabled (capabilities.enable is
    False), so a safe stop skips that step and the bridge always reads enabled.

    A mode whose steps cannot be read back (actions only) is remembered: it reads as the mode last
    written. An entity a step wrote that has not changed at all since the call reads as written
    (the call was accepted; whether the battery acted is the power sensor's to tell, which effect
    verification checks); once it changes, its real state counts, so a foreign change is drift.
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
        self._spec: BridgeSpec | None = None
        self._issues: set[tuple[Issue, str]] = set()  # (key, detail) of the issues raised
        self._lock = asyncio.Lock()
        # entity → (state written, its State object before the call: a new object means it changed)
        self._pending: dict[str, tuple[str, State]] = {}
        self._last_mode: Mode | None = None  # the mode last written
        self._last_power: float | None = None  # the power setpoint last asked for
        self._reserve: float | None = None  # the reserve asked for (kept while a mode holds its entity)
        self._keepalive: CALLBACK_TYPE | None = None
        self._seen: tuple[Mode | None, float] = (None, 0.0)  # the last reading's mode and power setpoint

    @property
    def spec(self) -> BridgeSpec:
        """The mapping (parsed once)."""
        if self._spec is None:
            try:
                self._spec = self.config.spec
            except BridgeSpecError as err:
                raise UnsupportedDeviceError(f"invalid bridge mapping: {err}") from err
        return self._spec

    # ---------------------------------------------------------------- BatteryDriver

    async def identify(self) -> DeviceInfo:
        """Capabilities from the mapping, names from the source device, range from the reserve number."""
        spec = self.spec
        rated = self.config.rated_power_w
        manufacturer, model = "Entity bridge", "Entity bridge"
        if (entry := er.async_get(self.hass).async_get(spec.soc_entity)) is not None and entry.device_id:
            device = dr.async_get(self.hass).async_get(entry.device_id)
            if isinstance(device, dr.DeviceEntry):
                manufacturer = device.manufacturer or manufacturer
                model = device.model or model
        reserve_min, reserve_max = 0.0, 100.0
        if spec.reserve_entity and (state := self.hass.states.get(spec.reserve_entity)) is not None:
            ends = [
                spec.reserve_transform.from_source(float(state.attributes.get(key, default)), rated)
                for key, default in (("min", 0.0), ("max", 100.0))
            ]
            # 100 - x turns the source's range around; our reserve stays within 0..100.
            reserve_min, reserve_max = max(0.0, min(ends)), min(100.0, max(ends))
        self.info = DeviceInfo(
            manufacturer=manufacturer,
            model=model,
            serial=self.serial,
            firmware="",
            capacity_kwh=0.0,
            limits=Limits(
                max_charge_w=rated,
                max_discharge_w=rated,
                max_apparent_va=rated,
                reserve_min_pct=reserve_min,
                reserve_max_pct=reserve_max,
            ),
            # Only what the mapping offers: a reserve, its modes, a power setpoint, a power reading.
            capabilities=Capabilities(
                modes=frozenset(spec.modes),
                reserve=bool(spec.reserve_entity),
                power_setpoint=spec.power_writable,
                active_power=bool(spec.power_sensor),
                reactive_power=False,
                enable=False,
                voltage=False,
                temperature=False,
                energy=False,
                power_modes=self._power_modes(),
            ),
        )
        self._start_keepalive()
        return self.info

    def _power_modes(self) -> frozenset[Mode] | None:
        """The modes a power setpoint can be written in (checked when an override is set, too)."""
        spec = self.spec
        if spec.power is None:
            return None
        if spec.power.shape == SHAPE_MAGNITUDE:
            return frozenset({Mode.FORCE_CHARGE, Mode.FORCE_DISCHARGE})
        if spec.power.shape == SHAPE_MODE:
            return frozenset(m for m, mode in spec.modes.items() if any(s.uses_power for s in mode.steps))
        return frozenset(Mode)  # any mode; a force mode still fixes the sign

    async def read(self) -> Measurements:
        """The source entities' states; any of them unavailable makes the battery unavailable."""
        spec = self.spec
        self._update_issues()
        for entity_id in spec.read_entities:
            self._state(entity_id)
        soc = self._number(spec.soc_entity)
        power = self._power(spec.power_sensor) if spec.power_sensor else 0.0
        mode = self._read_mode()
        power_setpoint = self._read_power_setpoint(mode)
        self._seen = (mode, power_setpoint)
        return Measurements(
            soc_pct=soc,
            active_power_w=power,
            reactive_power_var=0.0,
            mode=mode,
            reserve_pct=self._read_reserve(),
            power_setpoint_w=power_setpoint,
            reactive_setpoint_var=0.0,
            enabled=True,
        )

    async def write(self, setpoints: Setpoints) -> None:
        """The steps for the fields set, in their order; nothing is sent if a field is refused."""
        assert self.info is not None
        self.info.check(setpoints)
        async with self._lock:
            await self._write(setpoints)

    async def set_enabled(self, enabled: bool) -> None:
        """Nothing: the sources have no enable switch (capabilities.enable is False)."""

    async def close(self) -> None:
        """Stop the keep-alive and withdraw the repair issues this battery raised."""
        if self._keepalive is not None:
            self._keepalive()
            self._keepalive = None
        for key, detail in self._issues:
            async_clear_issue(self.hass, key, self.entry_id, detail)
        self._issues.clear()

    # ---------------------------------------------------------------- reading

    def _state(self, entity_id: str) -> State:
        state = self.hass.states.get(entity_id)
        if state is None:
            raise DeviceConnectionError(f"{entity_id} does not exist")
        if state.state in _NOT_THERE:
            raise DeviceConnectionError(f"{entity_id} is {state.state}")
        return state

    def _observed(self, entity_id: str) -> str:
        """The entity's state, or what we wrote to it while it has not changed since the call."""
        state = self._state(entity_id)
        if (pending := self._pending.get(entity_id)) is not None:
            written, before = pending
            if state is before:
                return written
            del self._pending[entity_id]
        return state.state

    def _number(self, entity_id: str) -> float:
        value = self._observed(entity_id)
        try:
            return float(value)
        except ValueError as err:
            raise DeviceResponseError(f"{entity_id} is not a number: {value!r}") from err

    def _power(self, entity_id: str) -> float:
        """Watts, + discharge - charge, whatever unit and sign the source uses."""
        value = self._number(entity_id)
        unit = self._state(entity_id).attributes.get("unit_of_measurement")
        if unit in PowerConverter.VALID_UNITS and unit != UnitOfPower.WATT:
            value = PowerConverter.convert(value, unit, UnitOfPower.WATT)
        return -value if self.spec.power_sensor_charge_positive else value

    def _held(self, mode: Mode | None) -> set[str]:
        """Entities a mode's steps set (a field on one of them is the mode's while it lasts)."""
        if mode is None or mode not in self.spec.modes:
            return set()
        return {step.entity for step in self.spec.modes[mode].steps if step.entity}

    def _read_reserve(self) -> float:
        spec = self.spec
        if not spec.reserve_entity:
            return 0.0
        if spec.reserve_entity in self._held(self._last_mode) and self._reserve is not None:
            return self._reserve  # e.g. force charge holds the reserve at 100 %: ours is still ours
        value = spec.reserve_transform.from_source(
            self._number(spec.reserve_entity), self.config.rated_power_w
        )
        self._reserve = value
        return value

    def _read_mode(self) -> Mode | None:
        spec = self.spec
        if self._last_mode is not None and not spec.conditions(self._last_mode):
            return self._last_mode  # nothing to read it back from: remembered
        for mode in spec.modes:
            conditions = spec.conditions(mode)
            if conditions and all(c.holds(self._observed(c.entity)) for c in conditions):
                return mode
        return None

    def _read_power_setpoint(self, mode: Mode | None) -> float:
        power = self.spec.power
        if power is None:
            return 0.0
        rated = self.config.rated_power_w
        transform = power.transform
        if power.shape == SHAPE_SIGNED:
            assert power.entity is not None
            value = transform.from_source(self._number(power.entity), rated)
            return -value if power.charge_positive else value
        if power.shape == SHAPE_SPLIT:
            assert power.charge_entity is not None
            assert power.discharge_entity is not None
            charge = transform.from_source(self._number(power.charge_entity), rated)
            discharge = transform.from_source(self._number(power.discharge_entity), rated)
            return discharge - charge
        if power.shape == SHAPE_MAGNITUDE:
            assert power.entity is not None
            magnitude = abs(transform.from_source(self._number(power.entity), rated))
            return (
                {Mode.FORCE_CHARGE: -magnitude, Mode.FORCE_DISCHARGE: magnitude}.get(mode, 0.0)
                if mode
                else 0.0
            )
        # SHAPE_MODE: carried by action data, nothing to read back: what was asked, while its mode lasts.
        if mode is not None and mode == self._last_mode:
            return self._last_power or 0.0
        return 0.0

    # ---------------------------------------------------------------- writing

    def _tokens(self, power: float | None, mode: Mode | None) -> dict[str, Any]:
        """Values for the step tokens; a force mode without a power asks for the rated power."""
        rated = self.config.rated_power_w
        if power is None:
            power = {Mode.FORCE_CHARGE: -rated, Mode.FORCE_DISCHARGE: rated}.get(mode, 0.0) if mode else 0.0
        return {
            REF_SIGNED: power,
            REF_SIGNED_CHARGE: -power,
            REF_MAGNITUDE: abs(power),
            REF_CHARGE: max(0.0, -power),
            REF_DISCHARGE: max(0.0, power),
            REF_RESERVE: self._reserve if self._reserve is not None else 0.0,
            REF_DEVICE: self.spec.device_id or "",
        }

    async def _write(self, setpoints: Setpoints) -> None:
        spec = self.spec
        mode = setpoints.mode or self._last_mode or self._read_mode_quietly()
        power = float(setpoints.power_w) if setpoints.power_w is not None else self._last_power
        planned: list[tuple[int, int, Step]] = []
        reserve = setpoints.reserve_pct
        if reserve is not None and spec.reserve_entity and spec.reserve_entity not in self._held(mode):
            planned.append((spec.reserve_order, len(planned), self._reserve_step(reserve)))
        elif reserve is None and self._reserve is not None and spec.reserve_entity:
            # Leaving a mode that held the reserve entity: put our reserve back.
            left = self._held(self._last_mode) - self._held(mode)
            if setpoints.mode is not None and spec.reserve_entity in left:
                planned.append((spec.reserve_order, len(planned), self._reserve_step(self._reserve)))
        carried = (
            mode is not None and mode in spec.modes and any(s.uses_power for s in spec.modes[mode].steps)
        )
        if setpoints.power_w is not None:
            self._check_direction(setpoints.power_w, mode, carried)
        run_mode = mode is not None and (
            setpoints.mode is not None or (setpoints.power_w is not None and carried)
        )
        mode_steps = spec.modes[mode].steps if run_mode and mode is not None else ()
        if setpoints.power_w is not None and spec.power is not None and spec.power.shape != SHAPE_MODE:
            # An entity the mode's steps set anyway (with the power in it) is written once, by them.
            ours = {step.entity for step in mode_steps}
            power_steps = [s for s in self._power_steps(setpoints.power_w, mode) if s.entity not in ours]
            planned.extend((spec.power.order, len(planned) + i, s) for i, s in enumerate(power_steps))
        planned.extend(
            (100 + i if s.order is None else s.order, len(planned) + i, s) for i, s in enumerate(mode_steps)
        )
        tokens = self._tokens(power, mode)
        # Known before the first call: a read the first write triggers must see the mode in progress.
        before = (self._last_mode, self._last_power, self._reserve)
        self._last_mode = setpoints.mode or self._last_mode
        self._last_power = power
        self._reserve = reserve if reserve is not None else self._reserve
        try:
            for _order, _index, step in sorted(planned, key=lambda item: (item[0], item[1])):
                await self._run(step, tokens)
        except DeviceError:
            self._last_mode, self._last_power, self._reserve = before
            raise

    @staticmethod
    def _ordered(steps: tuple[Step, ...]) -> list[Step]:
        """A mode's steps in write order: by their order, else where they stand."""
        ranked = sorted(
            enumerate(steps),
            key=lambda item: (100 + item[0] if item[1].order is None else item[1].order, item[0]),
        )
        return [step for _index, step in ranked]

    def _read_mode_quietly(self) -> Mode | None:
        try:
            return self._read_mode()
        except DeviceConnectionError, DeviceResponseError:
            return None

    def _reserve_step(self, reserve: float) -> Step:
        assert self.spec.reserve_entity is not None
        return Step(
            kind=STEP_NUMBER,
            entity=self.spec.reserve_entity,
            value=reserve,
            transform=self.spec.reserve_transform,
        )

    def _check_direction(self, power_w: float, mode: Mode | None, carried: bool) -> None:
        """Refuse a power the mode contradicts, or one nothing can carry."""
        spec = self.spec
        if spec.power is not None and spec.power.shape == SHAPE_MODE and not carried and power_w:
            # The power travels with the mode's action: without such a mode there is nothing to send it with.
            raise UnsupportedFieldError("power_w", power_w)
        if (mode is Mode.FORCE_CHARGE and power_w > 0) or (mode is Mode.FORCE_DISCHARGE and power_w < 0):
            raise UnsupportedFieldError("power_w", power_w)

    def _power_steps(self, power_w: float, mode: Mode | None) -> list[Step]:
        """The writes for a power setpoint in the shape the source takes it."""
        spec = self.spec.power
        assert spec is not None
        transform = spec.transform
        if spec.shape == SHAPE_SIGNED:
            assert spec.entity is not None
            value = -power_w if spec.charge_positive else power_w
            return [Step(kind=STEP_NUMBER, entity=spec.entity, value=value, transform=transform)]
        if spec.shape == SHAPE_SPLIT:
            assert spec.charge_entity is not None
            assert spec.discharge_entity is not None
            return [
                Step(
                    kind=STEP_NUMBER, entity=spec.charge_entity, value=max(0.0, -power_w), transform=transform
                ),
                Step(
                    kind=STEP_NUMBER,
                    entity=spec.discharge_entity,
                    value=max(0.0, power_w),
                    transform=transform,
                ),
            ]
        assert spec.entity is not None  # SHAPE_MAGNITUDE: the direction is the mode's
        if power_w and mode not in (Mode.FORCE_CHARGE, Mode.FORCE_DISCHARGE):
            # A magnitude cannot say charge or discharge: only a force mode can.
            raise UnsupportedFieldError("power_w", power_w)
        return [Step(kind=STEP_NUMBER, entity=spec.entity, value=abs(power_w), transform=transform)]

    async def _run(self, step: Step, tokens: Mapping[str, Any]) -> None:
        """One step: the service call, and what the entity should read afterwards."""
        rated = self.config.rated_power_w
        if step.kind == STEP_ACTION:
            assert step.service is not None
            domain, service = step.service.split(".", 1)
            numbers = {
                key: _plain_number(round(step.transform.to_source(float(value), rated), 3))
                for key, value in tokens.items()
                if isinstance(value, float)
            }
            payload = fill_tokens(step.data, {**tokens, **numbers})
            await self._call(domain, service, payload, step.service)
            return
        assert step.entity is not None
        entity_id = step.entity
        domain = entity_id.split(".", 1)[0]
        written: str
        if step.kind not in (STEP_SELECT, STEP_NUMBER, STEP_SWITCH):
            # A button's state is the time of its last press ("unknown" until then): only be there.
            if (button := self.hass.states.get(entity_id)) is None or button.state == STATE_UNAVAILABLE:
                raise DeviceConnectionError(f"{entity_id} is not available")
            await self._call(domain, "press", {"entity_id": entity_id}, entity_id)
            return
        state = self._state(entity_id)
        if step.kind == STEP_SELECT:
            assert step.option is not None
            if step.option not in select_options(state):
                self._update_issues()
                raise DeviceResponseError(f"{entity_id} no longer offers the option {step.option!r}")
            data: dict[str, Any] = {"option": step.option}
            service, written = SERVICE_SELECT_OPTION, step.option
        elif step.kind == STEP_NUMBER:
            raw = fill_tokens(step.value, tokens)
            value = round(step.transform.to_source(float(raw), rated), 6)
            data, service, written = {"value": value}, SERVICE_SET_VALUE, str(float(value))
        else:
            data, service = {}, "turn_on" if step.on else "turn_off"
            written = "on" if step.on else "off"
        await self._call(domain, service, {"entity_id": entity_id, **data}, entity_id)
        self._pending[entity_id] = (written, state)

    async def _call(self, domain: str, service: str, data: dict[str, Any], what: str) -> None:
        try:
            await self.hass.services.async_call(domain, service, data, blocking=True)
        except (HomeAssistantError, vol.Invalid) as err:
            raise DeviceResponseError(f"{domain}.{service} on {what} failed: {err}") from err

    # ---------------------------------------------------------------- keep-alive

    def _start_keepalive(self) -> None:
        """Re-send the current mode's steps at the mapping's interval, for modes that need it."""
        spec = self.spec
        if self._keepalive is not None or not spec.keepalive_s:
            return
        if not any(mode.keepalive for mode in spec.modes.values()):
            return
        self._keepalive = async_track_time_interval(
            self.hass,
            self._async_keepalive,
            timedelta(seconds=spec.keepalive_s),
            name=f"{DOMAIN} bridge keep-alive {self.name}",
            cancel_on_shutdown=True,
        )

    async def _async_keepalive(self, _now: datetime) -> None:
        """Re-send the mode last written; after a restart, the one read back (with its power)."""
        mode, power = self._last_mode, self._last_power
        if mode is None:
            mode, power = self._seen
        if mode is None or not self.spec.modes[mode].keepalive:
            return
        async with self._lock:
            tokens = self._tokens(power, mode)
            try:
                for step in self._ordered(self.spec.modes[mode].steps):
                    await self._run(step, tokens)
            except (DeviceConnectionError, DeviceResponseError) as err:
                # The next read shows whether the battery left the mode; reconciliation takes over.
                _LOGGER.warning("%s: keep-alive of %s failed: %s", self.name, mode.value, err)

    # ---------------------------------------------------------------- repairs

    @callback
    def _update_issues(self) -> None:
        """Repair issues for missing source entities and mapped options a select no longer offers."""
        spec = self.spec
        wanted: dict[tuple[Issue, str], dict[str, str]] = {}
        for entity_id in spec.entity_ids:
            # While Home Assistant starts, the other integration may simply not be loaded yet.
            if self.hass.state is CoreState.running and self.hass.states.get(entity_id) is None:
                wanted[Issue.BRIDGE_MISSING_ENTITY, entity_id] = {"battery": self.name, "entity": entity_id}
        for mode, mode_spec in spec.modes.items():
            for step in mode_spec.steps:
                if step.kind != STEP_SELECT or step.entity is None or step.option is None:
                    continue
                state = self.hass.states.get(step.entity)
                if state is None or state.state in _NOT_THERE or step.option in select_options(state):
                    continue
                wanted[Issue.BRIDGE_MISSING_OPTION, mode.value] = {
                    "battery": self.name,
                    "entity": step.entity,
                    "mode": mode.value,
                    "option": step.option,
                }
                break
        if self.hass.state is CoreState.running:
            for action in spec.services:
                # An action of an integration that is not loaded (yet): the modes calling it would fail.
                if not self.hass.services.has_service(*action.split(".", 1)):
                    wanted[Issue.BRIDGE_MISSING_ACTION, action] = {"battery": self.name, "action": action}
        for key, detail in self._issues - wanted.keys():
            async_clear_issue(self.hass, key, self.entry_id, detail)
        for (key, detail), placeholders in wanted.items():
            if (key, detail) not in self._issues:  # raised already otherwise (this runs on every read)
                async_raise_issue(self.hass, key, self.entry_id, placeholders, detail=detail)
        self._issues = set(wanted)


@callback
def async_follow_sources(
    hass: HomeAssistant,
    driver: EntityBridgeDriver,
    request_refresh: Callable[[], Coroutine[Any, Any, None]],
) -> CALLBACK_TYPE:
    """Ask for a read whenever a source entity changes, so drift is seen at once."""

    @callback
    def _changed(event: Event[Any]) -> None:
        hass.async_create_task(request_refresh(), eager_start=True)

    try:
        actions = set(driver.config.spec.services)
    except BridgeSpecError:
        actions = set()

    @callback
    def _is_ours(data: Mapping[str, Any]) -> bool:
        # An action a mode calls appears (its integration loaded): read, so its repair issue clears.
        return f"{data[ATTR_DOMAIN]}.{data[ATTR_SERVICE]}" in actions

    unsubs = [
        async_track_state_change_event(hass, driver.config.entity_ids, _changed),
        hass.bus.async_listen(EVENT_SERVICE_REGISTERED, _changed, event_filter=_is_ours),
    ]

    @callback
    def _stop() -> None:
        for unsub in unsubs:
            unsub()

    return _stop
