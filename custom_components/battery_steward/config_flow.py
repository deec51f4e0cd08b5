"""Config flow: a built-in simulated battery, a Modbus TCP battery, or another integration's entities."""

from collections.abc import Mapping
from typing import Any, override
import uuid

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers import entity_registry as er, selector
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service_info.dhcp import DhcpServiceInfo
import probatio as vol
import yaml  # type: ignore[import-untyped]  # PyYAML ships with Home Assistant; no stubs installed

from .api.fetcher import api_configured, make_client
from .bridge import (
    MODE_DOMAINS,
    POWER_DOMAINS,
    RESERVE_DOMAINS,
    SOC_DOMAINS,
    select_options,
)
from .bridge_presets import Candidate, candidates, describe
from .bridge_spec import BridgeSpec, BridgeSpecError
from .const import (
    CONF_ADMIN_ONLY,
    CONF_API_PASSWORD,
    CONF_API_PLANT,
    CONF_API_POSTING,
    CONF_API_TOMORROW_HOUR,
    CONF_API_URL,
    CONF_API_USERNAME,
    CONF_CAPACITY_KWH,
    CONF_FIGHT_MAX,
    CONF_FIGHT_WINDOW_MIN,
    CONF_JOURNAL_SIZE,
    CONF_KIND,
    CONF_LAYOUT,
    CONF_MAPPING,
    CONF_MAX_POWER_W,
    CONF_MODE_ENTITY,
    CONF_MODE_OPTIONS,
    CONF_ON_STOP,
    CONF_PATROL_MIN,
    CONF_POLL_INTERVAL,
    CONF_POWER_CHARGE_POSITIVE,
    CONF_POWER_ENTITY,
    CONF_POWER_SIGN,
    CONF_PRESET,
    CONF_PROFILE,
    CONF_PROFILE_SETTINGS,
    CONF_RATED_POWER_W,
    CONF_REGISTER_MAP,
    CONF_REGISTER_MAP_FILE,
    CONF_RESERVE_ENTITY,
    CONF_SAFE_STOP_THRESHOLD_PCT,
    CONF_SAFE_STOP_TIMEOUT_S,
    CONF_SERIAL,
    CONF_SOC_ENTITY,
    CONF_UNIT,
    CONF_VERIFY_S,
    DEFAULT_CAPACITY_KWH,
    DEFAULT_FIGHT_MAX,
    DEFAULT_FIGHT_WINDOW_MIN,
    DEFAULT_JOURNAL_SIZE,
    DEFAULT_PATROL_MIN,
    DEFAULT_POLL_INTERVAL_S,
    DEFAULT_PORT,
    DEFAULT_RATED_POWER_W,
    DEFAULT_SAFE_STOP_THRESHOLD_PCT,
    DEFAULT_SAFE_STOP_TIMEOUT_S,
    DEFAULT_TOMORROW_HOUR,
    DEFAULT_UNIT,
    DEFAULT_VERIFY_S,
    DOMAIN,
    KIND_BRIDGE,
    KIND_MODBUS,
    KIND_SIMULATOR,
    LOGGER,
    MAX_POLL_INTERVAL_S,
    MIN_POLL_INTERVAL_S,
    ON_STOP_CHOICES,
    ON_STOP_LEAVE,
    SIMULATOR_HOST,
    docs_url,
    poll_interval,
)
from .controller import ControllerSettings
from .default_item import MINOR_VERSION_NEW
from .device.driver import (
    DeviceConnectionError,
    DeviceInfo,
    DeviceResponseError,
    UnsupportedDeviceError,
)
from .device.modbus import ModbusBatteryDriver
from .device.profiles import (
    PROFILE_CUSTOM,
    PROFILE_MARSTEK,
    PROFILE_STEWARD,
    PROFILE_SUNSPEC,
    PROFILE_VICTRON,
    PROFILES,
    Profile,
    RegisterMapError,
    make_profile,
)
from .device.profiles.marstek import (
    DEFAULT_CAPACITY_KWH as MARSTEK_CAPACITY_KWH,
    LAYOUTS,
    POWER_SIGN_DISCHARGE_POSITIVE,
    POWER_SIGNS,
)
from .device.profiles.victron import DEFAULT_CAPACITY_KWH as VICTRON_CAPACITY_KWH, DEFAULT_MAX_POWER_W
from .device.simulator import SimConfig, SimulatedBattery
from .engine.state import Mode
from .entity import admin_only
from .item_flow import ScheduleItemFlow
from .lifecycle import CONF_RETENTION_DAYS, DEFAULT_RETENTION_DAYS
from .plan_flow import PLAN_FLOWS
from .register_map import async_load_register_map, async_profile
from .remote.client import RemoteApiError, RemoteAuthError
from .runtime import BatteryConfigEntry
from .schedule import SUBENTRY_ITEM

STEP_BRIDGE_PRESET = "bridge_preset"
STEP_BRIDGE_MAPPING = "bridge_mapping"
STEP_RECONFIGURE_PRESET = "reconfigure_preset"
STEP_RECONFIGURE_BY_HAND = "reconfigure_by_hand"
CONF_DEVICE = "device"


def _modbus_schema(defaults: Mapping[str, Any], *, profile: bool = True) -> vol.Schema:
    """Host, port and unit (and the register map, except when reconfiguring: it cannot change)."""
    schema = vol.Schema(
        {
            vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, vol.UNDEFINED)): str,
            vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): vol.All(
                selector.NumberSelector(
                    selector.NumberSelectorConfig(min=1, max=65535, mode=selector.NumberSelectorMode.BOX)
                ),
                vol.Coerce(int),
                vol.Range(min=1, max=65535),
            ),
            vol.Required(CONF_UNIT, default=defaults.get(CONF_UNIT, DEFAULT_UNIT)): vol.All(
                selector.NumberSelector(
                    selector.NumberSelectorConfig(min=1, max=247, mode=selector.NumberSelectorMode.BOX)
                ),
                vol.Coerce(int),
                vol.Range(min=1, max=247),
            ),
        }
    )
    if not profile:
        return schema
    # No preselected map: the user picks one, real devices first, the simulator's own map last.
    # Optional in the schema because the frontend preselects the first option of a required
    # select; the step refuses a form without one (profile_required).
    choices = [*(name for name in PROFILES if name != PROFILE_STEWARD), PROFILE_STEWARD]
    return schema.extend(
        {
            vol.Optional(CONF_PROFILE): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    # Radio buttons, every map in view (a drop-down past five options would hide them).
                    options=choices,
                    translation_key="profile",
                    mode=selector.SelectSelectorMode.LIST,
                )
            ),
        }
    )


def _capacity_key(defaults: Mapping[str, Any], default: float) -> vol.Required:
    return vol.Required(CONF_CAPACITY_KWH, default=defaults.get(CONF_CAPACITY_KWH, default))


def _capacity_field(*, minimum: float, step: float) -> vol.All[float]:
    """Usable energy in kWh, from minimum to 1000."""
    return vol.All(
        selector.NumberSelector(
            selector.NumberSelectorConfig(
                min=minimum,
                max=1000,
                step=step,
                unit_of_measurement="kWh",
                mode=selector.NumberSelectorMode.BOX,
            )
        ),
        vol.Coerce(float),
        vol.Range(min=minimum, max=1000),
    )


def _simulator_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema({_capacity_key(defaults, DEFAULT_CAPACITY_KWH): _capacity_field(minimum=1, step=0.5)})


def _power_sign_field(defaults: Mapping[str, Any]) -> dict[vol.Required, selector.SelectSelector]:
    """Which way the device counts battery power: a setting wherever no standard says."""
    return {
        vol.Required(
            CONF_POWER_SIGN, default=defaults.get(CONF_POWER_SIGN, POWER_SIGN_DISCHARGE_POSITIVE)
        ): selector.SelectSelector(
            selector.SelectSelectorConfig(options=list(POWER_SIGNS), translation_key=CONF_POWER_SIGN)
        )
    }


def _marstek_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            **_power_sign_field(defaults),
            vol.Required(CONF_LAYOUT, default=defaults.get(CONF_LAYOUT, LAYOUTS[0])): selector.SelectSelector(
                selector.SelectSelectorConfig(options=list(LAYOUTS), translation_key=CONF_LAYOUT)
            ),
            _capacity_key(defaults, MARSTEK_CAPACITY_KWH): _capacity_field(minimum=0.5, step=0.01),
        }
    )


def _watts_field(maximum: int) -> vol.All[int]:
    """A power in W, from 100 to maximum in steps of 100."""
    return vol.All(
        selector.NumberSelector(
            selector.NumberSelectorConfig(
                min=100, max=maximum, step=100, unit_of_measurement="W", mode=selector.NumberSelectorMode.BOX
            )
        ),
        vol.Coerce(int),
        vol.Range(min=100, max=maximum),
    )


def _victron_schema(defaults: Mapping[str, Any]) -> vol.Schema:
    """What the GX's system registers do not tell: the battery's size, the inverter's rating."""
    return vol.Schema(
        {
            _capacity_key(defaults, VICTRON_CAPACITY_KWH): _capacity_field(minimum=0.5, step=0.1),
            vol.Required(
                CONF_MAX_POWER_W, default=defaults.get(CONF_MAX_POWER_W, DEFAULT_MAX_POWER_W)
            ): _watts_field(100_000),
        }
    )


def _entity(domains: list[str]) -> selector.EntitySelector:
    return selector.EntitySelector(selector.EntitySelectorConfig(domain=domains))


def _bridge_schema() -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_SOC_ENTITY): _entity(SOC_DOMAINS),
            vol.Optional(CONF_POWER_ENTITY): _entity(POWER_DOMAINS),
            vol.Required(CONF_POWER_CHARGE_POSITIVE, default=False): selector.BooleanSelector(),
            vol.Optional(CONF_RESERVE_ENTITY): _entity(RESERVE_DOMAINS),
            vol.Optional(CONF_MODE_ENTITY): _entity(MODE_DOMAINS),
            vol.Required(CONF_RATED_POWER_W, default=DEFAULT_RATED_POWER_W): _watts_field(1_000_000),
        }
    )


def _review_schema(rated_power_w: int) -> vol.Schema:
    """What a preset filled in that the user may still change: the readings and the rating."""
    return vol.Schema(
        {
            vol.Required(CONF_SOC_ENTITY): _entity(SOC_DOMAINS),
            vol.Optional(CONF_POWER_ENTITY): _entity(POWER_DOMAINS),
            vol.Required(CONF_POWER_CHARGE_POSITIVE, default=False): selector.BooleanSelector(),
            vol.Required(CONF_RATED_POWER_W, default=rated_power_w): _watts_field(1_000_000),
        }
    )


def _bridge_error(hass: HomeAssistant, user_input: Mapping[str, Any]) -> str | None:
    """Why the chosen entities cannot make a battery, or None."""
    # (a config-only form error: not among the "return" lines that are also options errors)
    error: str | None = None
    if not user_input.get(CONF_RESERVE_ENTITY) and not user_input.get(CONF_MODE_ENTITY):
        error = "bridge_nothing_to_control"
    elif (mode_entity := user_input.get(CONF_MODE_ENTITY)) and not select_options(
        hass.states.get(mode_entity)
    ):
        error = "bridge_no_options"
    return error


def _modes_schema(options: list[str]) -> vol.Schema:
    choice = selector.SelectSelector(
        selector.SelectSelectorConfig(options=options, mode=selector.SelectSelectorMode.DROPDOWN)
    )
    return vol.Schema({vol.Optional(mode.value): choice for mode in Mode})


def _register_map_fields() -> dict[Any, Any]:
    return {
        vol.Optional(CONF_REGISTER_MAP): selector.TextSelector(selector.TextSelectorConfig(multiline=True)),
        vol.Optional(CONF_REGISTER_MAP_FILE): selector.TextSelector(),
    }


def _map_options(user_input: Mapping[str, Any]) -> dict[str, str]:
    """Only the map source the user filled in."""
    return {
        key: str(user_input[key])
        for key in (CONF_REGISTER_MAP, CONF_REGISTER_MAP_FILE)
        if user_input.get(key)
    }


async def _async_identify(
    host: str, port: int, unit: int, profile: Profile | None = None
) -> tuple[DeviceInfo | None, str | None]:
    """Identify the device; return (info, None) or (None, form error key)."""
    driver = ModbusBatteryDriver(host, port, unit, profile=profile)
    try:
        return await driver.identify(), None
    except DeviceConnectionError:
        return None, "cannot_connect"
    except DeviceResponseError:
        return None, "invalid_unit"
    except UnsupportedDeviceError:
        return None, "unsupported_device"
    except Exception:
        LOGGER.exception("Unexpected error identifying %s:%s unit %s", host, port, unit)
        return None, "unknown"
    finally:
        await driver.close()


class BatteryStewardConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a battery: tested before the entry is created, unique by serial."""

    VERSION = 1
    MINOR_VERSION = MINOR_VERSION_NEW  # the battery's default item is made at its first set-up

    def __init__(self) -> None:
        """What earlier steps of a flow entered (Modbus connection and map; the entity bridge's choices)."""
        self._connection: dict[str, Any] = {}
        self._marstek: dict[str, Any] = {}
        self._sunspec: dict[str, Any] = {}
        self._victron: dict[str, Any] = {}
        self._map: dict[str, str] = {}
        self._bridge: dict[str, Any] = {}
        self._candidate: Candidate | None = None

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: BatteryConfigEntry) -> BatteryOptionsFlow:
        return BatteryOptionsFlow()

    @classmethod
    @callback
    @override
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry
    ) -> dict[str, type[ConfigSubentryFlow]]:
        return {SUBENTRY_ITEM: ScheduleItemFlow, **PLAN_FLOWS}

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose what kind of battery to add."""
        return self.async_show_menu(
            step_id="user",
            menu_options=[KIND_SIMULATOR, KIND_MODBUS, KIND_BRIDGE, STEP_BRIDGE_PRESET, STEP_BRIDGE_MAPPING],
        )

    async def async_step_simulator(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A simulated battery that runs inside Home Assistant, for trying things safely."""
        if user_input is None:
            return self.async_show_form(step_id="simulator", data_schema=_simulator_schema({}))
        serial = f"SIM-{uuid.uuid4().hex[:8].upper()}"
        await self.async_set_unique_id(serial)
        self._abort_if_unique_id_configured()
        # Start it once so the entry is only created for a simulator that answers.
        simulator = SimulatedBattery(SimConfig(serial=serial, capacity_kwh=user_input[CONF_CAPACITY_KWH]))
        await simulator.start(host=SIMULATOR_HOST, port=0)
        try:
            info, error = await _async_identify(SIMULATOR_HOST, simulator.port, 1)
        finally:
            await simulator.stop()
        if info is None:
            return self.async_abort(reason=error or "unknown")
        return self.async_create_entry(
            title=f"Simulated battery {serial}",
            data={
                CONF_KIND: KIND_SIMULATOR,
                CONF_SERIAL: serial,
                CONF_CAPACITY_KWH: user_input[CONF_CAPACITY_KWH],
            },
        )

    async def async_step_modbus(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A battery reached over Modbus TCP; profiles with settings ask for them next."""
        if user_input is None:
            return self._show_modbus({})
        self._connection = user_input
        if not user_input.get(CONF_PROFILE):
            return self._show_modbus({CONF_PROFILE: "profile_required"})
        if user_input[CONF_PROFILE] == PROFILE_MARSTEK:
            return await self.async_step_marstek()
        if user_input[CONF_PROFILE] == PROFILE_SUNSPEC:
            return await self.async_step_sunspec()
        if user_input[CONF_PROFILE] == PROFILE_CUSTOM:
            return await self.async_step_custom_map()
        if user_input[CONF_PROFILE] == PROFILE_VICTRON:
            return await self.async_step_victron()
        return await self._async_create(make_profile(user_input[CONF_PROFILE]), {}, {})

    async def async_step_marstek(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """What the Marstek community map leaves open: power sign, layout, capacity."""
        if user_input is None:
            return self.async_show_form(step_id="marstek", data_schema=_marstek_schema(self._marstek))
        self._marstek = user_input
        return await self._async_create(
            make_profile(PROFILE_MARSTEK, user_input), {CONF_PROFILE_SETTINGS: user_input}, {}
        )

    async def async_step_sunspec(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """What SunSpec leaves open: the sign of model 802's battery power (a DC value without one)."""
        if user_input is None:
            return self.async_show_form(
                step_id="sunspec", data_schema=vol.Schema(_power_sign_field(self._sunspec))
            )
        self._sunspec = user_input
        return await self._async_create(
            make_profile(PROFILE_SUNSPEC, user_input), {CONF_PROFILE_SETTINGS: user_input}, {}
        )

    async def async_step_victron(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """What a Victron GX does not tell over Modbus: capacity and inverter rating."""
        if user_input is None:
            return self.async_show_form(step_id="victron", data_schema=_victron_schema(self._victron))
        self._victron = user_input
        return await self._async_create(
            make_profile(PROFILE_VICTRON, user_input), {CONF_PROFILE_SETTINGS: user_input}, {}
        )

    async def async_step_custom_map(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The custom register map, as YAML text or a file in the config directory; validated first."""
        errors: dict[str, str] = {}
        placeholders = {"docs_url": docs_url("supported-devices.md")}
        if user_input is not None:
            self._map = _map_options(user_input)
            try:
                register_map = await async_load_register_map(self.hass, self._map)
            except RegisterMapError as err:
                errors["base"] = err.code
                placeholders |= err.placeholders
            else:
                return await self._async_create(
                    make_profile(PROFILE_CUSTOM, {"map": register_map}), {}, self._map
                )
        return self.async_show_form(
            step_id="custom_map",
            data_schema=self.add_suggested_values_to_schema(vol.Schema(_register_map_fields()), self._map),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _show_modbus(self, errors: dict[str, str]) -> ConfigFlowResult:
        return self.async_show_form(
            step_id="modbus",
            data_schema=self.add_suggested_values_to_schema(_modbus_schema({}), self._connection),
            errors=errors,
        )

    async def _async_create(
        self, profile: Profile, extra_data: dict[str, Any], options: dict[str, Any]
    ) -> ConfigFlowResult:
        """Identify with the chosen profile; back to the connection step on failure."""
        connection = self._connection
        info, error = await _async_identify(
            connection[CONF_HOST], connection[CONF_PORT], connection[CONF_UNIT], profile
        )
        if info is None:
            return self._show_modbus({"base": error or "unknown"})
        await self.async_set_unique_id(info.serial)
        self._abort_if_unique_id_configured(updates=connection)
        return self.async_create_entry(
            title=f"{info.model} {info.serial}",
            data={CONF_KIND: KIND_MODBUS, CONF_SERIAL: info.serial, **connection, **extra_data},
            options=options,
        )

    async def async_step_dhcp(self, discovery_info: DhcpServiceInfo) -> ConfigFlowResult:
        """A Fronius inverter announced itself (its DHCP OUI, as core's fronius matches): SunSpec."""
        self._async_abort_entries_match({CONF_HOST: discovery_info.ip})
        # One of ours at a new address? Its serial says so: update the address, nothing to ask.
        addresses = {(DEFAULT_PORT, DEFAULT_UNIT)} | {
            (entry.data[CONF_PORT], entry.data[CONF_UNIT])
            for entry in self._async_current_entries()
            if entry.data.get(CONF_PROFILE) == PROFILE_SUNSPEC
        }
        for port, unit in sorted(addresses):
            info, _error = await _async_identify(discovery_info.ip, port, unit, make_profile(PROFILE_SUNSPEC))
            if info is not None:
                await self.async_set_unique_id(info.serial)
                self._abort_if_unique_id_configured(updates={CONF_HOST: discovery_info.ip})
                break
        self._connection = {
            CONF_HOST: discovery_info.ip,
            CONF_PORT: DEFAULT_PORT,
            CONF_UNIT: DEFAULT_UNIT,
            CONF_PROFILE: PROFILE_SUNSPEC,
        }
        self.context["title_placeholders"] = {"host": discovery_info.ip}
        return await self.async_step_dhcp_confirm()

    async def async_step_dhcp_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Port and unit of its Modbus TCP (SunSpec) server; identified before anything is saved."""
        if user_input is None:
            return self.async_show_form(
                step_id="dhcp_confirm",
                data_schema=vol.Schema(
                    {
                        key: value
                        for key, value in _modbus_schema(self._connection, profile=False).schema.items()
                        if key != CONF_HOST
                    }
                ),
                description_placeholders={
                    "host": self._connection[CONF_HOST],
                    "docs_url": docs_url("supported-devices.md"),
                },
            )
        self._connection |= user_input
        return await self._async_create(make_profile(PROFILE_SUNSPEC), {}, {})

    async def async_step_bridge(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A battery another integration provides as entities: choose them."""
        return await self._async_bridge_entities("bridge", user_input, None)

    async def async_step_bridge_preset(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Pick the device of an integration we know; its preset fills the mapping in for review."""
        found = {candidate.key: candidate for candidate in candidates(self.hass)}
        if not found:
            return self.async_abort(reason="bridge_no_preset")
        if user_input is not None:
            self._candidate = found[user_input[CONF_DEVICE]]
            return await self.async_step_bridge_review()
        options = [selector.SelectOptionDict(value=key, label=c.label) for key, c in found.items()]
        schema = vol.Schema(
            {
                vol.Required(CONF_DEVICE): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=options)
                )
            }
        )
        if self.source == SOURCE_RECONFIGURE:
            # Keeping the preset is picking it again: the device it was set up with comes first.
            data = self._get_reconfigure_entry().data
            kept = [
                key
                for key, c in found.items()
                if c.preset.key == data.get(CONF_PRESET) and c.mapping["soc"] == data.get(CONF_SOC_ENTITY)
            ]
            schema = self.add_suggested_values_to_schema(schema, {CONF_DEVICE: kept[0]} if kept else {})
        return self.async_show_form(step_id=STEP_BRIDGE_PRESET, data_schema=schema)

    async def async_step_bridge_review(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The filled-in mapping, shown before anything is saved; nothing is written to the battery here."""
        candidate = self._candidate
        assert candidate is not None
        mapping = candidate.mapping
        if user_input is not None:
            mapping = {key: value for key, value in mapping.items() if key != "power_sensor"}
            mapping["soc"] = user_input[CONF_SOC_ENTITY]
            mapping["power_sensor_charge_positive"] = user_input[CONF_POWER_CHARGE_POSITIVE]
            if power := user_input.get(CONF_POWER_ENTITY):
                mapping["power_sensor"] = power
            self._bridge = {
                CONF_SOC_ENTITY: user_input[CONF_SOC_ENTITY],
                CONF_POWER_ENTITY: power or None,
                CONF_POWER_CHARGE_POSITIVE: user_input[CONF_POWER_CHARGE_POSITIVE],
                CONF_RESERVE_ENTITY: (mapping.get("reserve") or {}).get("entity"),
                CONF_RATED_POWER_W: user_input[CONF_RATED_POWER_W],
                CONF_MAPPING: mapping,
                CONF_PRESET: candidate.preset.key,
            }
            return await self._async_finish_bridge({})
        suggested = {
            CONF_SOC_ENTITY: mapping["soc"],
            CONF_POWER_ENTITY: mapping.get("power_sensor"),
            CONF_POWER_CHARGE_POSITIVE: bool(mapping.get("power_sensor_charge_positive")),
        }
        if self.source == SOURCE_RECONFIGURE:
            # The rating the user gave stays unless changed here.
            suggested[CONF_RATED_POWER_W] = self._get_reconfigure_entry().data.get(CONF_RATED_POWER_W)
        return self.async_show_form(
            step_id="bridge_review",
            data_schema=self.add_suggested_values_to_schema(
                _review_schema(candidate.preset.rated_power_w), suggested
            ),
            description_placeholders={
                "preset": candidate.preset.name,
                "mapping": describe(mapping),
                "caveats": "\n".join(f"- {caveat}" for caveat in candidate.preset.caveats),
                "source": candidate.preset.source,
            },
        )

    async def async_step_bridge_mapping(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """A full mapping written by hand (YAML), for an integration without a preset; checked first."""
        errors: dict[str, str] = {}
        error = ""
        if user_input is not None:
            try:
                spec = BridgeSpec.from_dict(yaml.safe_load(user_input[CONF_MAPPING]))
            except (yaml.YAMLError, BridgeSpecError) as err:
                errors["base"], error = "bridge_invalid_mapping", str(err)
            else:
                self._bridge = {
                    CONF_SOC_ENTITY: spec.soc_entity,
                    CONF_POWER_ENTITY: spec.power_sensor,
                    CONF_POWER_CHARGE_POSITIVE: spec.power_sensor_charge_positive,
                    CONF_RESERVE_ENTITY: spec.reserve_entity,
                    CONF_RATED_POWER_W: user_input[CONF_RATED_POWER_W],
                    CONF_MAPPING: spec.as_dict(),
                }
                return await self._async_finish_bridge({})
        schema = vol.Schema(
            {
                vol.Required(CONF_MAPPING): selector.TextSelector(
                    selector.TextSelectorConfig(multiline=True)
                ),
                vol.Required(CONF_RATED_POWER_W, default=DEFAULT_RATED_POWER_W): _watts_field(1_000_000),
            }
        )
        return self.async_show_form(
            step_id=STEP_BRIDGE_MAPPING,
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders={"error": error},
        )

    async def _async_bridge_entities(
        self, step_id: str, user_input: dict[str, Any] | None, current: Mapping[str, Any] | None
    ) -> ConfigFlowResult:
        """The form choosing the source entities (set-up and reconfigure); then the mode step."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if (error := _bridge_error(self.hass, user_input)) is not None:
                errors["base"] = error
            else:
                self._bridge = user_input
                if user_input.get(CONF_MODE_ENTITY):
                    return await self.async_step_bridge_modes()
                return await self._async_finish_bridge({})
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(_bridge_schema(), user_input or current),
            errors=errors,
        )

    async def async_step_bridge_modes(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Which of the select's options is which of our modes; unmapped modes are not offered."""
        mode_entity = self._bridge[CONF_MODE_ENTITY]
        errors: dict[str, str] = {}
        if user_input is not None:
            mapping = {mode.value: user_input[mode.value] for mode in Mode if user_input.get(mode.value)}
            if not mapping:
                errors["base"] = "bridge_no_mode_mapped"
            elif len(set(mapping.values())) < len(mapping):
                # Two modes on one option could never be told apart when read back.
                errors["base"] = "bridge_duplicate_option"
            else:
                return await self._async_finish_bridge(mapping)
        suggested: Mapping[str, Any] | None = user_input
        if suggested is None and self.source == SOURCE_RECONFIGURE:
            entry = self._get_reconfigure_entry()
            if entry.data.get(CONF_MODE_ENTITY) == mode_entity:
                suggested = entry.data.get(CONF_MODE_OPTIONS)
        return self.async_show_form(
            step_id="bridge_modes",
            data_schema=self.add_suggested_values_to_schema(
                _modes_schema(select_options(self.hass.states.get(mode_entity))), suggested
            ),
            description_placeholders={"entity": mode_entity},
            errors=errors,
        )

    async def _async_finish_bridge(self, mode_options: dict[str, str]) -> ConfigFlowResult:
        data = {**self._bridge, CONF_MODE_OPTIONS: mode_options}
        for key in (CONF_POWER_ENTITY, CONF_RESERVE_ENTITY, CONF_MODE_ENTITY):
            data.setdefault(key, None)
        if self.source == SOURCE_RECONFIGURE:
            # Chosen by hand: a preset's mapping no longer applies.
            data.setdefault(CONF_MAPPING, None)
            data.setdefault(CONF_PRESET, None)
            return self.async_update_reload_and_abort(self._get_reconfigure_entry(), data_updates=data)
        soc_entity = data[CONF_SOC_ENTITY]
        # The entity registry id survives renaming the entity; YAML entities have none.
        registered = er.async_get(self.hass).async_get(soc_entity)
        serial = f"bridge-{registered.id if registered is not None else soc_entity}"
        await self.async_set_unique_id(serial)
        self._abort_if_unique_id_configured()
        state = self.hass.states.get(soc_entity)
        name = state.name if state is not None else soc_entity
        return self.async_create_entry(
            title=f"{name} (bridge)", data={CONF_KIND: KIND_BRIDGE, CONF_SERIAL: serial, **data}
        )

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The schedule API refused the credentials twice in a row."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the API password again and check it."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            options = {**entry.options, CONF_API_PASSWORD: user_input[CONF_API_PASSWORD]}
            error = await _async_check_api(self.hass, options)
            if error is None:
                return self.async_update_reload_and_abort(entry, options=options)
            errors["base"] = error
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_API_PASSWORD): selector.TextSelector(
                        selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
                    )
                }
            ),
            description_placeholders={"username": str(entry.options.get(CONF_API_USERNAME, ""))},
            errors=errors,
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change where the battery is reached (Modbus) or how big it is (simulator)."""
        entry = self._get_reconfigure_entry()
        if entry.data[CONF_KIND] == KIND_BRIDGE:
            return await self._async_reconfigure_bridge(entry, user_input)
        if entry.data[CONF_KIND] == KIND_SIMULATOR:
            if user_input is not None:
                return self.async_update_reload_and_abort(entry, data_updates=user_input)
            return self.async_show_form(step_id="reconfigure", data_schema=_simulator_schema(entry.data))
        errors: dict[str, str] = {}
        if user_input is not None:
            info: DeviceInfo | None = None
            try:
                profile = await async_profile(self.hass, entry.data, entry.options)
            except RegisterMapError:
                error: str | None = "map_invalid"
            else:
                info, error = await _async_identify(
                    user_input[CONF_HOST], user_input[CONF_PORT], user_input[CONF_UNIT], profile
                )
            if info is None:
                errors["base"] = error or "unknown"
            else:
                if info.serial != entry.unique_id:
                    # The address answers, but as another battery: say so, with both serials.
                    return self.async_abort(
                        reason="wrong_device",
                        description_placeholders={"found": info.serial, "expected": str(entry.unique_id)},
                    )
                return self.async_update_reload_and_abort(entry, data_updates=user_input)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_modbus_schema(user_input or entry.data, profile=False),
            errors=errors,
        )

    async def _async_reconfigure_bridge(
        self, entry: ConfigEntry, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Choose other source entities; the battery (its serial and entities) stays the same.

        A preset bridge first asks whether to pick a preset again (or keep it) or choose by hand.
        """
        if user_input is None and entry.data.get(CONF_PRESET):
            return await self.async_step_reconfigure_preset()
        return await self.async_step_reconfigure_by_hand(user_input)

    async def async_step_reconfigure_preset(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A preset bridge: pick a preset again (or keep it), or choose the entities by hand."""
        return self.async_show_menu(
            step_id=STEP_RECONFIGURE_PRESET, menu_options=[STEP_BRIDGE_PRESET, STEP_RECONFIGURE_BY_HAND]
        )

    async def async_step_reconfigure_by_hand(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The hand-made form, filled in with what the bridge uses now (submitted back to reconfigure)."""
        entry = self._get_reconfigure_entry()
        current = {key: value for key, value in entry.data.items() if value is not None}
        return await self._async_bridge_entities("reconfigure", user_input, current)


def _int_field(key: str, default: int, low: int, high: int, unit: str | None = None) -> tuple[Any, Any]:
    config = selector.NumberSelectorConfig(min=low, max=high, step=1, mode=selector.NumberSelectorMode.BOX)
    if unit is not None:
        config["unit_of_measurement"] = unit
    return (
        vol.Required(key, default=default),
        vol.All(selector.NumberSelector(config), vol.Coerce(int), vol.Range(min=low, max=high)),
    )


# key, default, minimum, maximum, unit
OPTIONS: tuple[tuple[str, int, int, int, str | None], ...] = (
    (CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL_S, MIN_POLL_INTERVAL_S, MAX_POLL_INTERVAL_S, "s"),
    (CONF_PATROL_MIN, DEFAULT_PATROL_MIN, 1, 1440, "min"),
    (CONF_FIGHT_MAX, DEFAULT_FIGHT_MAX, 1, 100, None),
    (CONF_FIGHT_WINDOW_MIN, DEFAULT_FIGHT_WINDOW_MIN, 1, 1440, "min"),
    (CONF_VERIFY_S, DEFAULT_VERIFY_S, 5, 3600, "s"),
    (CONF_JOURNAL_SIZE, DEFAULT_JOURNAL_SIZE, 100, 100000, None),
    (CONF_SAFE_STOP_THRESHOLD_PCT, DEFAULT_SAFE_STOP_THRESHOLD_PCT, 1, 50, "%"),
    (CONF_SAFE_STOP_TIMEOUT_S, int(DEFAULT_SAFE_STOP_TIMEOUT_S), 5, 3600, "s"),
    (CONF_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, 0, 3650, "d"),
)

# The settings form, in Home Assistant's form sections (stored flat in the entry's options).
SECTIONS: dict[str, tuple[str, ...]] = {
    "polling": (CONF_POLL_INTERVAL, CONF_PATROL_MIN),
    "reconciliation": (CONF_FIGHT_MAX, CONF_FIGHT_WINDOW_MIN, CONF_VERIFY_S, CONF_JOURNAL_SIZE),
    "safe_stop": (CONF_SAFE_STOP_THRESHOLD_PCT, CONF_SAFE_STOP_TIMEOUT_S, CONF_ON_STOP),
    "items": (CONF_RETENTION_DAYS,),
}
SECTION_REGISTER_MAP = "register_map_source"
SECTION_ACCESS = "access"

# Options the running battery takes at once; any other change reloads the entry.
LIVE_OPTIONS = frozenset(
    {CONF_POLL_INTERVAL, CONF_VERIFY_S, CONF_SAFE_STOP_THRESHOLD_PCT, CONF_SAFE_STOP_TIMEOUT_S, CONF_ON_STOP}
)

API_OPTIONS = (
    CONF_API_URL,
    CONF_API_USERNAME,
    CONF_API_PASSWORD,
    CONF_API_PLANT,
    CONF_API_POSTING,
    CONF_API_TOMORROW_HOUR,
)


async def _async_check_api(hass: HomeAssistant, options: Mapping[str, Any]) -> str | None:
    """Log in to the API; a form error key, or None when the credentials work."""
    client = make_client(async_get_clientsession(hass), dict(options))
    try:
        await client.async_check_credentials()
    except RemoteAuthError:
        return "invalid_auth"
    except RemoteApiError:
        return "api_cannot_connect"
    return None


class BatteryOptionsFlow(OptionsFlowWithReload):
    """Settings (in sections) or the schedule API (a step of its own).

    Options in LIVE_OPTIONS apply to the running battery at once; any other change reloads it
    (the built-in simulated battery keeps its state across the reload).
    """

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Which to change: the settings or the schedule API."""
        return self.async_show_menu(step_id="init", menu_options=["settings", "api"])

    async def async_step_settings(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Polling, reconciliation and safe stop (and a custom register map), in sections."""
        errors: dict[str, str] = {}
        placeholders = {
            "docs_url": docs_url("configuration.md"),
            "map_docs_url": docs_url("supported-devices.md"),
        }
        custom = self.config_entry.data.get(CONF_PROFILE) == PROFILE_CUSTOM
        current = dict(self.config_entry.options)
        if user_input is not None:
            changes = {key: value for name in SECTIONS for key, value in user_input[name].items()}
            changes |= user_input.get(SECTION_ACCESS, {})
            if custom:
                map_source = _map_options(user_input.get(SECTION_REGISTER_MAP, {}))
                for key in (CONF_REGISTER_MAP, CONF_REGISTER_MAP_FILE):
                    current.pop(key, None)
                changes |= map_source
                try:
                    await async_load_register_map(self.hass, map_source)
                except RegisterMapError as err:
                    errors["base"] = err.code
                    placeholders |= err.placeholders
            if not errors:
                return self._async_save({**current, **changes})
        # What a clean stop of Home Assistant does to the battery sits with the safe stop.
        extra: dict[str, dict[Any, Any]] = {
            "safe_stop": {
                vol.Optional(CONF_ON_STOP, default=current.get(CONF_ON_STOP, ON_STOP_LEAVE)): (
                    selector.SelectSelector(
                        selector.SelectSelectorConfig(
                            options=list(ON_STOP_CHOICES), translation_key=CONF_ON_STOP
                        )
                    )
                )
            }
        }
        fields: dict[Any, Any] = {
            vol.Required(name): section(
                vol.Schema(
                    dict(
                        _int_field(key, int(current.get(key, default)), low, high, unit)
                        for key, default, low, high, unit in OPTIONS
                        if key in keys
                    )
                    | extra.get(name, {})
                ),
                {"collapsed": False},
            )
            for name, keys in SECTIONS.items()
        }
        fields[vol.Optional(SECTION_ACCESS)] = section(
            vol.Schema(
                {
                    vol.Required(
                        CONF_ADMIN_ONLY, default=admin_only(self.config_entry)
                    ): selector.BooleanSelector()
                }
            ),
            {"collapsed": False},
        )
        if custom:
            suggested = (user_input or {}).get(SECTION_REGISTER_MAP) or current
            fields[vol.Required(SECTION_REGISTER_MAP)] = section(
                self.add_suggested_values_to_schema(vol.Schema(_register_map_fields()), suggested),
                {"collapsed": False},
            )
        return self.async_show_form(
            step_id="settings",
            data_schema=vol.Schema(fields),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_api(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The schedule API's address and credentials, checked by logging in."""
        errors: dict[str, str] = {}
        current = dict(self.config_entry.options)
        if user_input is not None:
            if not user_input.get(CONF_API_PASSWORD) and current.get(CONF_API_PASSWORD):
                # The stored password is never sent to the form: an empty field keeps it.
                user_input = {**user_input, CONF_API_PASSWORD: current[CONF_API_PASSWORD]}
            error = await _async_check_api(self.hass, user_input) if api_configured(user_input) else None
            if error is None:
                kept = {key: value for key, value in current.items() if key not in API_OPTIONS}
                return self._async_save({**kept, **user_input})
            errors["base"] = error
        fields: dict[Any, Any] = {
            vol.Optional(CONF_API_URL): selector.TextSelector(
                selector.TextSelectorConfig(type=selector.TextSelectorType.URL)
            ),
            vol.Optional(CONF_API_USERNAME): selector.TextSelector(),
            vol.Optional(CONF_API_PASSWORD): selector.TextSelector(
                selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
            ),
            vol.Optional(CONF_API_PLANT): selector.TextSelector(),
            vol.Optional(
                CONF_API_POSTING, default=bool(current.get(CONF_API_POSTING, True))
            ): selector.BooleanSelector(),
        }
        hour = int(current.get(CONF_API_TOMORROW_HOUR, DEFAULT_TOMORROW_HOUR))
        fields.update([_int_field(CONF_API_TOMORROW_HOUR, hour, 0, 23, "h")])
        # Never pre-fill the password: the form would send the secret to the browser.
        suggested = {key: value for key, value in (user_input or current).items() if key != CONF_API_PASSWORD}
        return self.async_show_form(
            step_id="api",
            data_schema=self.add_suggested_values_to_schema(vol.Schema(fields), suggested),
            errors=errors,
            description_placeholders={"docs_url": docs_url("remote-api.md")},
        )

    def _async_save(self, options: dict[str, Any]) -> ConfigFlowResult:
        """Apply live what can be (no reload), reload for the rest."""
        # An option never set has its default.
        defaults = {key: default for key, default, *_ in OPTIONS} | {CONF_ON_STOP: ON_STOP_LEAVE}
        before, after = {**defaults, **self.config_entry.options}, {**defaults, **options}
        changed = {key for key in {*after, *before} if after.get(key) != before.get(key)}
        if changed <= LIVE_OPTIONS and self.config_entry.state is ConfigEntryState.LOADED:
            self.automatic_reload = False
            runtime = self.config_entry.runtime_data
            runtime.coordinator.update_interval = poll_interval(options, runtime.connection.keep_alive_s)
            runtime.controller.settings = ControllerSettings.from_options(options)
        return self.async_create_entry(data=options)
