"""Plans from other integrations: an optimizer's forecast, day-ahead prices, a peak-day signal.

Configured as config subentries of the battery (`plan_flow.py`); this module follows the entities
they name (`async_track_state_change_event`) and turns what they hold into engine items:

- *series from an entity* (`series_entity`): a forecast list (EMHASS `battery_scheduled_power`
  or a generic list, `engine/forecasts.py`) becomes the day-ahead series of the `entity` schedule
  source, with the api source's rules (stale rows dispatch idle / 0 W, overlapping rows and
  powers beyond the device's limits refused whole). A malformed attribute or an unavailable
  entity raises a repair issue and the previous series stays until it goes stale.
- *price plan* (`price_plan`): the cheapest / dearest hours of a daily window
  (`engine/prices.py`) as constant-power spans among the manual items, the rest of the window in
  automatic mode, planned for every window
  whose prices are known (tomorrow's as soon as they arrive); a window that starts without prices
  falls back to the other items, and the journal and the log say so.
- *peak day* (`peak_day`): while an entity's state is one of the chosen ones (e.g. tomorrow's
  Tempo colour is red), tonight's window force-charges (and raises the reserve) before that day;
  with a target state of charge, charging stops once the battery reaches it (the rest of the
  window automatic, the reserve held at the target), as the seed blueprint
  `precharge_before_peak_day.yaml` does. The peak days seen and the targets reached are stored,
  so a restart keeps tonight's window.

The controller is used only through its public methods (`async_plan_changed`, `source`,
`journal`): its `items_factory` asks `plan_items` for the items to plan with.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
import logging
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from homeassistant.config_entries import SIGNAL_CONFIG_ENTRY_CHANGED, ConfigEntry, ConfigEntryChange
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import CALLBACK_TYPE, Event, EventStateChangedData, HomeAssistant, State, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.event import async_track_state_change_event, async_track_time_change
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN, SOURCE_ENTITY
from .engine.forecasts import (
    EMHASS,
    EMHASS_ATTRIBUTE,
    ForecastFormat,
    ForecastFormatError,
    parse_forecast,
)
from .engine.items import DefaultItem, IntervalItem, Item, RampItem, SeriesItem
from .engine.journal import Result, Trigger
from .engine.localtime import zone
from .engine.prices import PricePlan, PriceSlot, fill, plan_window, prices_from_attributes, window
from .engine.serialize import ItemFormatError, item_from_dict, item_to_dict
from .engine.state import Mode, Setpoints
from .engine.validation import validate_item
from .repairs import Issue, async_clear_issue, async_raise_issue

if TYPE_CHECKING:
    from .controller import BatteryController

_LOGGER = logging.getLogger(__name__)

SUBENTRY_SERIES = "series_entity"
SUBENTRY_PRICE = "price_plan"
SUBENTRY_PEAK = "peak_day"
FEED_TYPES = (SUBENTRY_SERIES, SUBENTRY_PRICE, SUBENTRY_PEAK)
FORMAT_EMHASS = "emhass"
FORMAT_GENERIC = "generic"
SERIES_ID = "entity"
STORE_VERSION = 1
SAVE_DELAY_S = 2.0


def forecast_format(data: Mapping[str, Any]) -> ForecastFormat:
    """The forecast format a series subentry describes."""
    if data.get("format", FORMAT_EMHASS) == FORMAT_EMHASS:
        return EMHASS
    return ForecastFormat(
        time_key=str(data.get("time_key") or "start"),
        end_key=str(data["end_key"]) if data.get("end_key") else None,
        value_key=str(data["value_key"]) if data.get("value_key") else None,
        unit=str(data.get("unit", "W")),
        sign=str(data.get("sign", EMHASS.sign)),
    )


def _time(value: Any) -> time:
    return value if isinstance(value, time) else time.fromisoformat(str(value))


def _opt_float(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    return None if value is None or value == "" else float(value)


def price_plan(data: Mapping[str, Any]) -> PricePlan:
    """The price plan a price subentry describes."""
    return PricePlan(
        window_start=_time(data["window_start"]),
        window_end=_time(data["window_end"]),
        charge_hours=_opt_float(data, "charge_hours"),
        discharge_hours=_opt_float(data, "discharge_hours"),
        charge_below=_opt_float(data, "charge_below"),
        discharge_above=_opt_float(data, "discharge_above"),
        charge_w=float(data.get("charge_w", 0.0)),
        discharge_w=float(data.get("discharge_w", 0.0)),
    )


def _span(feed: _Feed, slot: PriceSlot, tz: str, reserve: float | None = None) -> Item:
    """A slot as a span item: a constant power (a ramp of one step), or automatic mode at 0 W.

    Automatic covers the window's slots that were not chosen, so the battery leaves force charge
    or discharge when a chosen slot ends. `reserve`: the backup reserve held in the slot.
    """
    duration = (slot.end - slot.start).total_seconds()
    common: dict[str, Any] = {
        "id": f"{feed.subentry_id}_{slot.start.isoformat()}",
        "name": feed.title,
        "tz": tz,
        "priority": int(feed.data.get("priority", 0)),
    }
    if slot.power_w == 0:
        # One occurrence: anchored at the slot, as long as it, valid only then.
        return IntervalItem(
            **common,
            setpoints=Setpoints(mode=Mode.AUTO, reserve_pct=reserve),
            anchor=slot.start,
            every_s=duration,
            duration_s=duration,
            valid_from=slot.start,
            valid_until=slot.end,
        )
    mode = Mode.FORCE_CHARGE if slot.power_w < 0 else Mode.FORCE_DISCHARGE
    return RampItem(
        **common,
        setpoints=Setpoints(mode=mode, reserve_pct=reserve),
        start_at=slot.start,
        duration_s=duration,
        power_from_w=slot.power_w,
        power_to_w=slot.power_w,
        step_s=duration,
    )


@dataclass(kw_only=True)
class _Feed:
    """What one subentry last produced."""

    subentry_id: str
    kind: str
    title: str
    data: dict[str, Any]
    items: list[Item] = field(default_factory=list)
    error: str | None = None
    peak_days: set[date] = field(default_factory=set)
    full_at: dict[date, datetime] = field(default_factory=dict)  # peak day -> target reached
    said_missing: set[date] = field(default_factory=set)


class PlanFeeds:
    """One per battery: follows the entities its plan subentries name."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Nothing is followed until async_start."""
        self.hass = hass
        self.entry = entry
        self.controller: BatteryController | None = None
        self.series: SeriesItem | None = None
        self._feeds: dict[str, _Feed] = {}
        self._unsubs: list[CALLBACK_TYPE] = []
        self._tracking: CALLBACK_TYPE | None = None
        # The last valid series survives a restart: an optimizer's entity is often gone until it
        # publishes again, and the rows already received are followed until they go stale.
        self._store = _series_store(hass, entry.entry_id)
        self._stored_peaks: dict[str, Any] = {}

    # ---------------------------------------------------------------- what the controller plans

    def plan_items(self, manual: list[Item]) -> list[Item]:
        """The items the controller plans with: the entity series, or manual items plus prices.

        Under the entity series the default item stays: the series sets the mode and the powers at
        every instant, the default's other fields (the reserve) hold.
        """
        if self.controller is not None and self.controller.source == SOURCE_ENTITY:
            defaults = [item for item in manual if isinstance(item, DefaultItem)]
            return [*defaults, self.series or SeriesItem(id=SERIES_ID, rows=())]
        extra = [item for feed in self._feeds.values() if feed.kind != SUBENTRY_SERIES for item in feed.items]
        return [*manual, *extra]

    # ---------------------------------------------------------------- life cycle

    async def async_start(self) -> None:
        """Restore the last valid series, read every configured entity now, then whenever it changes.

        Called before the controller starts, so its first plan has what the entities hold. Also
        at each local midnight (windows move on).
        """
        stored = await self._store.async_load() or {}
        try:
            restored = item_from_dict(stored["series"]) if stored.get("series") else None
        except ItemFormatError:
            restored = None
        self.series = restored if isinstance(restored, SeriesItem) else None
        self._stored_peaks = dict(stored.get("peaks") or {})
        if self.controller is not None:
            self._unsubs.append(self.controller.coordinator.async_add_listener(self._on_measurements))
        self._unsubs += [
            async_dispatcher_connect(self.hass, SIGNAL_CONFIG_ENTRY_CHANGED, self._on_entry_changed),
            async_track_time_change(self.hass, self._on_midnight, hour=0, minute=0, second=0),
        ]
        self._configure(notify=False)

    async def async_stop(self) -> None:
        """Stop following; save the series now (a delayed save would be lost on reload)."""
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        if self._tracking is not None:
            self._tracking()
            self._tracking = None
        await self._store.async_save(self._stored())

    def _stored(self) -> dict[str, Any]:
        peaks = {
            sid: {
                "days": sorted(d.isoformat() for d in feed.peak_days),
                "full": {d.isoformat(): t.isoformat() for d, t in feed.full_at.items()},
            }
            for sid, feed in self._feeds.items()
            if feed.kind == SUBENTRY_PEAK
        }
        return {"series": item_to_dict(self.series) if self.series else None, "peaks": peaks}

    def _save(self) -> None:
        self._store.async_delay_save(self._stored, SAVE_DELAY_S)

    def _set_series(self, series: SeriesItem | None) -> None:
        self.series = series
        self._save()

    def _remembered(self, feed: _Feed) -> _Feed:
        """A peak feed set up at start: the peak days and reached targets stored before the restart."""
        stored = self._stored_peaks.pop(feed.subentry_id, None)
        if feed.kind == SUBENTRY_PEAK and isinstance(stored, dict):
            try:
                feed.peak_days = {date.fromisoformat(d) for d in stored.get("days") or []}
                feed.full_at = {
                    date.fromisoformat(d): datetime.fromisoformat(t)
                    for d, t in (stored.get("full") or {}).items()
                }
            except TypeError, ValueError:
                feed.peak_days, feed.full_at = set(), {}
        return feed

    def _subentries(self) -> dict[str, _Feed]:
        return {
            sid: _Feed(subentry_id=sid, kind=sub.subentry_type, title=sub.title, data=dict(sub.data))
            for sid, sub in self.entry.subentries.items()
            if sub.subentry_type in FEED_TYPES
        }

    @callback
    def _configure(self, *, notify: bool = True) -> None:
        wanted = self._subentries()
        for sid in set(self._feeds) - set(wanted):
            async_clear_issue(self.hass, Issue.PLAN_ENTITY_INVALID, self.entry.entry_id, sid)
        kept = {
            sid: self._feeds[sid]
            for sid, feed in wanted.items()
            if sid in self._feeds and self._feeds[sid].data == feed.data
        }
        self._feeds = {sid: kept.get(sid) or self._remembered(feed) for sid, feed in wanted.items()}
        changed = False
        if self.series is not None and not any(f.kind == SUBENTRY_SERIES for f in self._feeds.values()):
            self._set_series(None)  # its subentry was deleted
            changed = True
        if self._tracking is not None:
            self._tracking()
            self._tracking = None
        entities = sorted({str(feed.data["entity_id"]) for feed in self._feeds.values()})
        if entities:
            self._tracking = async_track_state_change_event(self.hass, entities, self._on_state_changed)
        changed |= self._refresh(self._feeds.values())
        if changed and notify:
            self._plan_changed()

    @callback
    def _on_entry_changed(self, change: ConfigEntryChange, changed: ConfigEntry) -> None:
        if changed.entry_id != self.entry.entry_id or change is not ConfigEntryChange.UPDATED:
            return
        wanted = {sid: feed.data for sid, feed in self._subentries().items()}
        if wanted != {sid: feed.data for sid, feed in self._feeds.items()}:
            self._configure()

    @callback
    def _on_state_changed(self, event: Event[EventStateChangedData]) -> None:
        entity_id = event.data["entity_id"]
        if self._refresh(feed for feed in self._feeds.values() if feed.data["entity_id"] == entity_id):
            self._plan_changed()

    @callback
    def _on_midnight(self, _now: datetime) -> None:
        """A new local day: windows move on (today's becomes yesterday's)."""
        self._refresh_all()

    @callback
    def _refresh_all(self) -> None:
        if self._refresh(self._feeds.values()):
            self._plan_changed()

    def _refresh(self, feeds: Iterable[_Feed]) -> bool:
        """Re-read the feeds' entities; whether anything the plan uses changed."""
        changed = False
        for feed in list(feeds):
            state = self.hass.states.get(str(feed.data["entity_id"]))
            try:
                if feed.kind == SUBENTRY_SERIES:
                    changed |= self._read_series(feed, state)
                elif feed.kind == SUBENTRY_PRICE:
                    changed |= self._read_prices(feed, state)
                else:
                    changed |= self._read_peak(feed, state)
            except ForecastFormatError as err:
                self._raise(feed, str(err))
            else:
                self._clear(feed)
        return changed

    @callback
    def _plan_changed(self) -> None:
        assert self.controller is not None  # set before async_start
        self.controller.async_plan_changed()

    # ---------------------------------------------------------------- readers

    def _attributes(self, state: State | None) -> Mapping[str, Any]:
        if state is None or state.state in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            raise ForecastFormatError("the entity is missing or unavailable")
        return state.attributes

    def _read_series(self, feed: _Feed, state: State | None) -> bool:
        attribute = str(feed.data.get("attribute") or EMHASS_ATTRIBUTE)
        attributes = self._attributes(state)
        if attribute not in attributes:
            raise ForecastFormatError(f"no attribute {attribute!r}")
        rows = parse_forecast(attributes[attribute], forecast_format(feed.data))
        series = SeriesItem(id=SERIES_ID, name=feed.title, tz="UTC", rows=tuple(rows))
        assert self.controller is not None
        if issues := validate_item(series, self.controller.coordinator.info.limits):
            raise ForecastFormatError(issues[0].message)
        if self.series is not None and self.series.rows == series.rows:
            return False
        self._set_series(series)
        _LOGGER.debug("%s: %d rows from %s", self.entry.title, len(rows), feed.data["entity_id"])
        return self.controller.source == SOURCE_ENTITY

    def _zone(self) -> ZoneInfo:
        """The battery's time zone: Home Assistant's (as the fetcher's local days)."""
        return zone(str(self.hass.config.time_zone))

    def _days(self) -> list[date]:
        today = dt_util.now().date()
        return [today - timedelta(days=1), today, today + timedelta(days=1)]

    def _read_prices(self, feed: _Feed, state: State | None) -> bool:
        """Plan every window whose prices are known; malformed prices keep the previous plan."""
        plan = price_plan(feed.data)
        prices = prices_from_attributes(self._attributes(state), feed.data.get("attribute") or None)
        tz = self._zone()
        items: list[Item] = []
        now = dt_util.utcnow()
        for day in self._days():
            slots = plan_window(prices, day, plan, tz)
            if slots is None:
                self._say_missing(feed, day, now)
                continue
            items.extend(_span(feed, s, str(tz)) for s in fill(slots, *window(day, plan, tz)))
        changed = items != feed.items
        feed.items = items
        return changed

    def _say_missing(self, feed: _Feed, day: date, now: datetime) -> None:
        """A window that has begun (or begins within the hour) without prices: say so, once."""
        start, end = window(day, price_plan(feed.data), self._zone())
        if day in feed.said_missing or not start - timedelta(hours=1) <= now < end:
            return
        feed.said_missing.add(day)
        note = f"{feed.title}: no prices for the window of {day.isoformat()}; the other items apply"
        _LOGGER.warning("%s: %s", self.entry.title, note)
        assert self.controller is not None
        self.controller.journal.add(
            trigger=Trigger.CONFIG,
            scheduled=start,
            executed=now,
            result=Result.SKIPPED,
            fields=None,
            error=None,
            note=note,
        )

    def _read_peak(self, feed: _Feed, state: State | None) -> bool:
        """Today's state decides tonight's window; a missing entity keeps what was decided.

        What was decided is stored: after a restart the entity may be missing or show another
        day's state, and tonight's window still runs.
        """
        states = {str(s).strip().casefold() for s in feed.data.get("states") or []}
        today = dt_util.now().date()
        days = set(feed.peak_days)
        if state is not None and state.state not in (STATE_UNAVAILABLE, STATE_UNKNOWN):
            if state.state.strip().casefold() in states:
                days.add(today)
            else:
                days.discard(today)
        # A window that began yesterday evening still runs this morning.
        days = {d for d in days if d >= today - timedelta(days=1)}
        if days != feed.peak_days:
            feed.peak_days = days
            feed.full_at = {d: t for d, t in feed.full_at.items() if d in days}
            self._save()
        changed = self._plan_peak(feed)
        if state is None:
            raise ForecastFormatError("the entity is missing")
        return changed

    def _peak_window(self, feed: _Feed, day: date) -> tuple[datetime, datetime]:
        plan = PricePlan(
            window_start=_time(feed.data["window_start"]), window_end=_time(feed.data["window_end"])
        )
        return window(day, plan, self._zone())

    def _plan_peak(self, feed: _Feed) -> bool:
        """Each peak day's window: force charge, or up to its reached target then automatic."""
        tz = str(self._zone())
        reserve = _opt_float(feed.data, "reserve_pct")
        target = _opt_float(feed.data, "target_soc_pct")
        items: list[Item] = []
        for day in sorted(feed.peak_days):
            start, end = self._peak_window(feed, day)
            full = min(max(feed.full_at.get(day, end), start), end)
            if full > start:
                slot = PriceSlot(start=start, end=full, power_w=-abs(float(feed.data["charge_w"])))
                items.append(_span(feed, slot, tz, reserve))
            if full < end:  # the target is reached: keep the energy (the blueprint's override)
                items.append(_span(feed, PriceSlot(start=full, end=end, power_w=0.0), tz, target))
        changed = items != feed.items
        feed.items = items
        return changed

    @callback
    def _on_measurements(self) -> None:
        """A peak day's target state of charge reached in its window: charging stops there."""
        assert self.controller is not None
        coordinator = self.controller.coordinator
        if coordinator.data is None or not coordinator.last_update_success:
            return
        now = dt_util.utcnow().replace(microsecond=0)
        changed = False
        for feed in self._feeds.values():
            target = _opt_float(feed.data, "target_soc_pct") if feed.kind == SUBENTRY_PEAK else None
            if target is None or coordinator.data.soc_pct < target:
                continue
            for day in sorted(feed.peak_days - set(feed.full_at)):
                start, end = self._peak_window(feed, day)
                if start <= now < end:
                    feed.full_at[day] = now
                    changed |= self._plan_peak(feed)
        if changed:
            self._save()
            self._plan_changed()

    # ---------------------------------------------------------------- repair issues

    def _raise(self, feed: _Feed, error: str) -> None:
        if feed.error == error:
            return
        feed.error = error
        entity = feed.data["entity_id"]
        _LOGGER.warning("%s: %s of %s refused: %s", self.entry.title, feed.title, entity, error)
        async_raise_issue(
            self.hass,
            Issue.PLAN_ENTITY_INVALID,
            self.entry.entry_id,
            {"battery": self.entry.title, "plan": feed.title, "entity": str(entity), "error": error},
            detail=feed.subentry_id,
        )

    def _clear(self, feed: _Feed) -> None:
        if feed.error is not None:
            feed.error = None
            async_clear_issue(self.hass, Issue.PLAN_ENTITY_INVALID, self.entry.entry_id, feed.subentry_id)


def _series_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return Store(hass, STORE_VERSION, f"{DOMAIN}.{entry_id}.plan_series", private=True)


async def async_remove_plan_store(hass: HomeAssistant, entry_id: str) -> None:
    """The battery was deleted: forget its series from an entity."""
    await _series_store(hass, entry_id).async_remove()
