"""The journal: what each controller run did, bounded, serializable for a Store."""

from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Trigger(StrEnum):
    """Why a run happened (ARCHITECTURE.md, "One idea")."""

    SCHEDULE = "schedule"
    DRIFT = "drift"
    PATROL = "patrol"
    STARTUP = "startup"
    OVERRIDE = "override"
    CONFIG = "config"
    WATCHDOG = "watchdog"
    MANUAL = "manual"
    RETRY = "retry"
    VERIFY = "verify"
    EDIT = "edit"  # not a run: a schedule item was added, edited, paused, resumed or removed


class Result(StrEnum):
    """How a run (or a missed change) ended."""

    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    MISSED = "missed"
    NO_EFFECT = "no_effect"


@dataclass(frozen=True, kw_only=True, slots=True)
class JournalRecord:
    """One run: trigger, when it was due, when it ran, fields written (old -> new), outcome."""

    seq: int
    trigger: Trigger
    scheduled: datetime | None
    executed: datetime
    result: Result
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    error: str | None = None
    note: str | None = None
    # The schedule items (ids) whose setpoints the run applied, per field (the planner's
    # Schedule.sources_at); empty when the run does not say.
    items: dict[str, str] = field(default_factory=dict)
    # The Home Assistant user who gave the command this record serves (None: no user, or unknown).
    user_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form, also what services return."""
        return {
            "seq": self.seq,
            "trigger": self.trigger.value,
            "scheduled": self.scheduled.isoformat() if self.scheduled else None,
            "executed": self.executed.isoformat(),
            "result": self.result.value,
            "fields": {name: {"old": old, "new": new} for name, (old, new) in self.fields.items()},
            "error": self.error,
            "note": self.note,
            "items": dict(self.items),
            "user_id": self.user_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JournalRecord:
        """Inverse of as_dict."""
        return cls(
            seq=int(data["seq"]),
            trigger=Trigger(data["trigger"]),
            scheduled=datetime.fromisoformat(data["scheduled"]) if data["scheduled"] else None,
            executed=datetime.fromisoformat(data["executed"]),
            result=Result(data["result"]),
            fields={k: (v["old"], v["new"]) for k, v in data.get("fields", {}).items()},
            error=data.get("error"),
            note=data.get("note"),
            items=dict(data.get("items") or {}),
            user_id=data.get("user_id"),
        )


class Journal:
    """Newest records kept, oldest dropped past `max_records`; sequence numbers never repeat."""

    def __init__(self, max_records: int = 2000, records: Iterable[JournalRecord] = ()) -> None:
        """Start from stored records (if any)."""
        self._records: deque[JournalRecord] = deque(records, maxlen=max_records)
        self._next_seq = (self._records[-1].seq + 1) if self._records else 1
        # Called with each record as it is added (the shell updates entities and watches failures).
        self.listeners: list[Callable[[JournalRecord], None]] = []
        # Which item set each written field at the instant (field -> item id, or "override"), for
        # records added without `items`.
        self.attribute: Callable[[Iterable[str], datetime], dict[str, str]] | None = None

    def __len__(self) -> int:
        """Number of records kept."""
        return len(self._records)

    @property
    def last(self) -> JournalRecord | None:
        """The newest record."""
        return self._records[-1] if self._records else None

    @property
    def last_run(self) -> JournalRecord | None:
        """The newest record of a run (or a missed change), not of an item edit."""
        return next((rec for rec in reversed(self._records) if rec.trigger is not Trigger.EDIT), None)

    def add(
        self,
        *,
        trigger: Trigger,
        scheduled: datetime | None,
        executed: datetime,
        result: Result,
        fields: dict[str, tuple[Any, Any]] | None = None,
        error: str | None = None,
        note: str | None = None,
        items: dict[str, str] | None = None,
        user_id: str | None = None,
    ) -> JournalRecord:
        """Append one record."""
        if items is None and fields and self.attribute is not None:
            items = self.attribute(fields, executed)
        record = JournalRecord(
            seq=self._next_seq,
            trigger=trigger,
            scheduled=scheduled,
            executed=executed,
            result=result,
            fields=dict(fields or {}),
            error=error,
            note=note,
            items=dict(items or {}),
            user_id=user_id,
        )
        self._next_seq += 1
        self._records.append(record)
        for listener in list(self.listeners):
            listener(record)
        return record

    def query(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        results: Iterable[Result] | None = None,
        limit: int | None = None,
    ) -> list[JournalRecord]:
        """Records in [since, until] with one of `results`, newest last, at most `limit`."""
        wanted = set(results) if results is not None else None
        found = [
            rec
            for rec in self._records
            if (since is None or rec.executed >= since)
            and (until is None or rec.executed <= until)
            and (wanted is None or rec.result in wanted)
        ]
        return found[-limit:] if limit else found

    def statistics(self) -> dict[str, dict[str, int]]:
        """Counts by result and by trigger."""
        return {
            "by_result": dict(Counter(rec.result.value for rec in self._records)),
            "by_trigger": dict(Counter(rec.trigger.value for rec in self._records)),
        }

    def as_list(self) -> list[dict[str, Any]]:
        """For the Store."""
        return [rec.as_dict() for rec in self._records]
