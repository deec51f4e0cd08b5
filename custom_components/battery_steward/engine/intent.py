"""The desired state as one pure function of time: the schedule overlaid with the override.

The override is a second layer over the plan; its expiry is a boundary like any item's, so the
changes between two instants, the next change and the next instant to wake up all come from one
place instead of the controller re-planning with the override added (ARCHITECTURE.md, "intent").
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Protocol

from .state import Setpoints


class Plan(Protocol):
    """What an intent needs from a schedule (engine.planner.Schedule is one)."""

    def desired_at(self, t: datetime) -> Setpoints:
        """The desired state at instant t (UTC)."""
        ...

    def next_change_after(self, t: datetime) -> datetime | None:
        """The first instant after t where the desired state changes."""
        ...

    def next_event_after(self, t: datetime) -> datetime | None:
        """The next instant any item fires, even when it sets the same values again."""
        ...


class Override(Protocol):
    """Setpoints held until `expires` (None: until cleared); store.StoredOverride is one."""

    @property
    def setpoints(self) -> Setpoints:
        """What the override sets."""
        ...

    @property
    def expires(self) -> datetime | None:
        """The first instant it no longer holds."""
        ...


def override_active(override: Override | None, t: datetime) -> bool:
    """Whether the override holds at t: it ends at its expiry, exclusive."""
    return override is not None and (override.expires is None or t < override.expires)


@dataclass(frozen=True, slots=True)
class Intent:
    """Schedule ⊕ override at any instant."""

    plan: Plan
    override: Override | None = None

    def desired_at(self, t: datetime) -> Setpoints:
        """The schedule at t, overlaid with the override while it holds."""
        desired = self.plan.desired_at(t)
        if self.override is not None and override_active(self.override, t):
            desired = desired.overlay(self.override.setpoints)
        return desired

    def just_before(self, t: datetime) -> Setpoints:
        """The desired state an instant before t (what a change at t changes from)."""
        return self.desired_at(t - timedelta(microseconds=1))

    def next_boundary_after(self, t: datetime) -> datetime | None:
        """The next instant the schedule changes or the override expires, whichever is first.

        A boundary may leave the desired state as it was (an override expiring onto the same
        values); the controller still wakes up there, to drop the expired override.
        """
        candidates = [self.plan.next_change_after(t)]
        if self.override is not None and self.override.expires is not None:
            candidates.append(self.override.expires)
        future = [c for c in candidates if c is not None and c > t]
        return min(future) if future else None

    def iter_changes(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, Setpoints]]:
        """Every real change of the desired state in (start, end], planned only as far as read."""
        t, current = start, self.desired_at(start)
        while (at := self.next_boundary_after(t)) is not None and at <= end:
            desired = self.desired_at(at)
            if desired != current:
                yield at, desired
                current = desired
            t = at

    def changes_between(
        self, start: datetime, end: datetime, *, limit: int | None = None
    ) -> list[tuple[datetime, Setpoints]]:
        """The changes in (start, end]; with limit, only the first limit of them."""
        return list(islice(self.iter_changes(start, end), limit))

    def next_change_after(self, t: datetime, end: datetime) -> datetime | None:
        """The first instant in (t, end] where the desired state really differs from at t."""
        return next((at for at, _ in self.iter_changes(t, end)), None)

    def override_until(self, now: datetime) -> datetime | None:
        """When a new override set at `now` "until the next scheduled change" ends."""
        return self.plan.next_event_after(now)
