"""Plans from other integrations as config subentries: add and reconfigure in the UI.

One form per kind (`plan_feeds.py` follows what they name): a series from an entity, a price
plan, a peak day. Each form checks what it can before saving: the entity exists, a series entity's
attribute reads as a forecast, powers are within the battery's limits.
"""

from typing import Any

from homeassistant.config_entries import ConfigSubentryFlow, SubentryFlowResult
from homeassistant.helpers import selector
import probatio as vol

from .engine.forecasts import EMHASS_ATTRIBUTE, SIGNS, UNITS, ForecastFormatError, parse_forecast
from .engine.prices import prices_from_attributes
from .plan_feeds import (
    FORMAT_EMHASS,
    FORMAT_GENERIC,
    SUBENTRY_PEAK,
    SUBENTRY_PRICE,
    SUBENTRY_SERIES,
    forecast_format,
)


def _number(low: float, high: float, unit: str, step: float = 1) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=low, max=high, step=step, unit_of_measurement=unit, mode=selector.NumberSelectorMode.BOX
        )
    )


def _select(options: list[str], key: str) -> selector.SelectSelector:
    return selector.SelectSelector(selector.SelectSelectorConfig(options=options, translation_key=key))


SCHEMAS: dict[str, vol.Schema] = {
    SUBENTRY_SERIES: vol.Schema(
        {
            vol.Required("name"): selector.TextSelector(),
            vol.Required("entity_id"): selector.EntitySelector(),
            vol.Required("format", default=FORMAT_EMHASS): _select(
                [FORMAT_EMHASS, FORMAT_GENERIC], "plan_format"
            ),
            vol.Optional("attribute"): selector.TextSelector(),
            vol.Optional("time_key"): selector.TextSelector(),
            vol.Optional("end_key"): selector.TextSelector(),
            vol.Optional("value_key"): selector.TextSelector(),
            vol.Required("unit", default="W"): selector.SelectSelector(
                selector.SelectSelectorConfig(options=list(UNITS))
            ),
            vol.Required("sign", default=SIGNS[0]): _select(list(SIGNS), "plan_sign"),
        }
    ),
    SUBENTRY_PRICE: vol.Schema(
        {
            vol.Required("name"): selector.TextSelector(),
            vol.Required("entity_id"): selector.EntitySelector(),
            vol.Optional("attribute"): selector.TextSelector(),
            vol.Required("window_start"): selector.TimeSelector(),
            vol.Required("window_end"): selector.TimeSelector(),
            vol.Optional("charge_hours"): _number(0, 24, "h", 0.25),
            vol.Optional("charge_below"): _number(-1e6, 1e6, "", 0.001),
            vol.Required("charge_w", default=0): _number(0, 1e6, "W", 10),
            vol.Optional("discharge_hours"): _number(0, 24, "h", 0.25),
            vol.Optional("discharge_above"): _number(-1e6, 1e6, "", 0.001),
            vol.Required("discharge_w", default=0): _number(0, 1e6, "W", 10),
            vol.Required("priority", default=0): _number(-100, 100, ""),
        }
    ),
    SUBENTRY_PEAK: vol.Schema(
        {
            vol.Required("name"): selector.TextSelector(),
            vol.Required("entity_id"): selector.EntitySelector(),
            vol.Required("states"): selector.TextSelector(selector.TextSelectorConfig(multiple=True)),
            vol.Required("window_start", default="22:00:00"): selector.TimeSelector(),
            vol.Required("window_end", default="06:00:00"): selector.TimeSelector(),
            vol.Required("charge_w"): _number(0, 1e6, "W", 10),
            vol.Optional("reserve_pct"): _number(0, 100, "%"),
            vol.Required("priority", default=0): _number(-100, 100, ""),
        }
    ),
}


class _PlanFlow(ConfigSubentryFlow):
    """One form; the same form, prefilled, to reconfigure."""

    kind: str = ""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Add a plan of this kind (one series per battery: the entity source has one)."""
        if self.kind == SUBENTRY_SERIES and any(
            sub.subentry_type == SUBENTRY_SERIES for sub in self._get_entry().subentries.values()
        ):
            return self.async_abort(reason="single_series")
        return await self._async_form("user", user_input, None)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Edit it."""
        return await self._async_form("reconfigure", user_input, dict(self._get_reconfigure_subentry().data))

    async def _async_form(
        self, step_id: str, user_input: dict[str, Any] | None, stored: dict[str, Any] | None
    ) -> SubentryFlowResult:
        errors: dict[str, str] = {}
        placeholders = {"detail": ""}
        if user_input is not None:
            data = {k: v for k, v in user_input.items() if k != "name" and v not in (None, "")}
            if "priority" in data:
                data["priority"] = int(data["priority"])
            error, detail = self._check(data)
            if error is None:
                title = str(user_input["name"])
                if stored is not None:
                    return self.async_update_and_abort(
                        self._get_entry(), self._get_reconfigure_subentry(), data=data, title=title
                    )
                return self.async_create_entry(title=title, data=data)
            errors["base"] = error
            placeholders["detail"] = detail
        suggested = user_input or (
            {**stored, "name": self._get_reconfigure_subentry().title} if stored is not None else {}
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(SCHEMAS[self.kind], suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    def _check(self, data: dict[str, Any]) -> tuple[str | None, str]:
        """A form error key and its detail, or None."""
        state = self.hass.states.get(str(data["entity_id"]))
        if state is None:
            return "plan_entity_missing", str(data["entity_id"])
        limits = self._get_entry().runtime_data.coordinator.info.limits
        for key, limit in (("charge_w", limits.max_charge_w), ("discharge_w", limits.max_discharge_w)):
            if float(data.get(key, 0)) > limit:
                return "plan_power_out_of_range", f"{key} > {limit:g} W"
        try:
            if self.kind == SUBENTRY_SERIES:
                attribute = str(data.get("attribute") or EMHASS_ATTRIBUTE)
                parse_forecast(state.attributes.get(attribute), forecast_format(data))
            elif self.kind == SUBENTRY_PRICE:
                prices_from_attributes(state.attributes, data.get("attribute"))
        except ForecastFormatError as err:
            return "plan_attribute_invalid", str(err)
        return None, ""


class SeriesEntityFlow(_PlanFlow):
    """The day-ahead series of the entity source, from a forecast attribute."""

    kind = SUBENTRY_SERIES


class PricePlanFlow(_PlanFlow):
    """Charge in the cheapest hours, discharge in the dearest, of a daily window."""

    kind = SUBENTRY_PRICE


class PeakDayFlow(_PlanFlow):
    """Pre-charge tonight when an entity says tomorrow is a peak day."""

    kind = SUBENTRY_PEAK


PLAN_FLOWS: dict[str, type[ConfigSubentryFlow]] = {
    SUBENTRY_SERIES: SeriesEntityFlow,
    SUBENTRY_PRICE: PricePlanFlow,
    SUBENTRY_PEAK: PeakDayFlow,
}
