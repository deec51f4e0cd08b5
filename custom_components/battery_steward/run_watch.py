"""Failures you see: each journal record is watched as it is added.

- Entities that show the controller (e.g. *Last run result*) are told at once, not at the next
  poll (a `no_effect` record from the effect check used to wait for it); a record a run adds,
  when that run is over (the runner tells them then).
- A failed run is logged at WARNING once per failure streak, and at INFO when runs succeed again.
- After FAILED_RUNS_FOR_ISSUE consecutive failed runs a repair issue names the battery, the
  fields and the device's error; it clears by itself on the next successful run.
- Each record of written fields names, per field, the item whose value it applied: the
  controller's journal hook does that (controller/loop.py, `ControlLoop.attribute`).
"""

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send

from .const import LOGGER, signal_state
from .engine.journal import JournalRecord, Result, Trigger
from .repairs import Issue, async_clear_issue, async_raise_issue
from .runtime import BatteryConfigEntry

FAILED_RUNS_FOR_ISSUE = 3


@callback
def async_watch_runs(hass: HomeAssistant, entry: BatteryConfigEntry) -> CALLBACK_TYPE:
    """Follow the controller's journal (call after the controller has started: it loads it)."""
    controller = entry.runtime_data.controller
    journal = controller.journal
    streak = 0

    @callback
    def on_record(record: JournalRecord) -> None:
        nonlocal streak
        if not controller.runner.running:
            # A run tells the entities itself once it is over: telling them at each of its records
            # too cost more than the write (50 batteries at one instant, benchmarks/fan_out.py).
            async_dispatcher_send(hass, signal_state(entry.entry_id))
        if record.trigger is Trigger.EDIT:
            return
        if record.result is Result.FAILED:
            streak += 1
            if streak == 1:
                LOGGER.warning(
                    "%s: a %s run failed: %s (retrying; logged once until a run succeeds)",
                    entry.title,
                    record.trigger.value,
                    record.error,
                )
            if streak >= FAILED_RUNS_FOR_ISSUE:
                async_raise_issue(
                    hass,
                    Issue.RUN_FAILURES,
                    entry.entry_id,
                    {
                        "battery": entry.title,
                        "count": str(streak),
                        "fields": ", ".join(sorted(record.fields)) or "-",
                        "error": record.error or "-",
                    },
                )
        elif record.result is Result.SUCCESS and streak:
            LOGGER.info("%s: runs succeed again after %d failed", entry.title, streak)
            streak = 0
            async_clear_issue(hass, Issue.RUN_FAILURES, entry.entry_id)

    journal.listeners.append(on_record)

    @callback
    def stop() -> None:
        journal.listeners.remove(on_record)

    return stop
