"""What a user follows of each schedule item: enabled, next start, last run and its result."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .engine.follow import last_start, next_start, start_in_force
from .engine.items import Item
from .engine.journal import Journal, JournalRecord, Result

if TYPE_CHECKING:
    from .controller import BatteryController


def served_by(journal: Journal, item: Item, started: datetime) -> JournalRecord | None:
    """The run that served the item's start at `started`.

    The newest record since then that names the item; for records that do not name their items,
    the run scheduled for that instant, else the first run made while that start was in force.
    """
    since = journal.query(since=started)
    named = [rec for rec in since if item.id in rec.items.values()]
    if named:
        return named[-1]
    exact = [rec for rec in since if rec.scheduled == started]
    if exact:
        return exact[0]
    return next((rec for rec in since if start_in_force(item, rec.executed) == started), None)


def item_status(controller: BatteryController, item: Item, now: datetime) -> dict[str, Any]:
    """The item's follow-up fields (instants as ISO strings in UTC, None when there is none).

    `last_run` is the item's latest start at or before now; `last_result` the result of the run
    that served it (`served_by`), `missed` for a one-off missed while Home Assistant was down
    past its grace time, None when no run has served it yet.
    """
    started = last_start(item, now)
    upcoming = next_start(item, now)
    result: str | None = None
    if item.id in controller.missed:
        result = Result.MISSED.value
    elif started is not None and (record := served_by(controller.journal, item, started)) is not None:
        result = record.result.value
    return {
        "enabled": item.enabled,
        "next_start": upcoming.astimezone(UTC).isoformat() if upcoming else None,
        "last_run": started.astimezone(UTC).isoformat() if started else None,
        "last_result": result,
    }
