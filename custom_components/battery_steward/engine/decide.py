"""What one run writes, and why: a pure function of the run's inputs.

The controller gathers the inputs (desired state, the reading, suspended and settling fields,
the gates); `decide` says which fields to write and what the journal should say. Nothing here
talks to a device or to Home Assistant, so every rule of a run is unit- and property-tested.
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from .journal import Result, Trigger
from .reconcile import Tolerance, diff, restrict
from .state import SETPOINT_FIELDS, Mode, Setpoints

# Triggers whose writes are corrections (counted by fight detection, silenced by reconciliation off).
CORRECTING = frozenset({Trigger.DRIFT, Trigger.PATROL})
# Triggers that journal a skipped run when the dispatch gate is closed (someone asked for them).
ASKED = frozenset({Trigger.SCHEDULE, Trigger.OVERRIDE, Trigger.MANUAL})
STALE_NOTE = "day-ahead series is stale: dispatching zero"
UNAVAILABLE = "battery unavailable"


@dataclass(frozen=True, kw_only=True, slots=True)
class Gates:
    """The user's switches: dispatch (off: write nothing) and reconciliation (off: no corrections)."""

    dispatch: bool = True
    reconciliation: bool = True


DEFAULT_TOLERANCE = Tolerance()


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """A run's verdict: the fields to write (none: write nothing) and its journal entry.

    `result` None means the run is not journaled (a quiet re-run, a drift run with nothing to do).
    """

    write: Setpoints = field(default_factory=Setpoints)
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    result: Result | None = None
    note: str | None = None
    error: str | None = None
    correcting: bool = False

    @property
    def writes(self) -> bool:
        """Whether anything is written."""
        return bool(self.write.set_fields())


def plain(value: Any) -> Any:
    """JSON-safe value for the journal."""
    return value.value if isinstance(value, Mode) else value


def decide(
    *,
    trigger: Trigger,
    desired: Setpoints,
    before: Setpoints | None,
    actual: Setpoints | None,
    suspended: frozenset[str] = frozenset(),
    gates: Gates = Gates(),
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    writable: frozenset[str] = frozenset(SETPOINT_FIELDS),
    unsupported: Callable[[Setpoints], Collection[str]] = lambda _s: (),
    rerun: bool = False,
    stale: bool = False,
) -> Decision:
    """One run's decision.

    `desired` is the intent now; `before` the intent just before the scheduled instant (schedule
    runs only: what changes now); `actual` the reading with fields still settling after a write
    overlaid (None: the battery could not be read). `suspended` are fields fight detection stopped
    correcting; `unsupported` says which differing fields the device cannot be told (a value it
    lacks, such as a mode); `rerun` marks a quiet re-run that journals only what it writes;
    `stale` an api source whose day-ahead series is stale (or missing).
    """
    correcting = trigger in CORRECTING
    if actual is None:
        return Decision(result=Result.FAILED, error=UNAVAILABLE)
    if correcting and not gates.reconciliation:
        return Decision()
    if not gates.dispatch:
        if trigger in ASKED and not rerun:
            return Decision(result=Result.SKIPPED, note="dispatch off")
        return Decision()
    todo, lacking = differing(desired, actual, tolerance, writable, unsupported)
    # Suspended fields are not corrected; an override asks for them explicitly.
    skip = frozenset() if trigger is Trigger.OVERRIDE else suspended
    if trigger is Trigger.SCHEDULE and before is not None:
        unchanged = frozenset(
            name for name in SETPOINT_FIELDS if getattr(before, name) == getattr(desired, name)
        )
        # A scheduled change of a suspended field is written once at its instant (not a
        # correction); without reconciliation the executor writes only what changes now.
        skip = unchanged if not gates.reconciliation else skip & unchanged
    todo = restrict(todo, todo.set_fields() - skip)
    note = f"the device cannot set {', '.join(sorted(lacking))}" if lacking else None
    if stale:
        note = STALE_NOTE
    if not todo.set_fields():
        if trigger is not Trigger.DRIFT and not rerun:
            return Decision(result=Result.SUCCESS, note=note or "in sync")
        return Decision()
    fields = {name: (plain(getattr(actual, name)), plain(getattr(todo, name))) for name in todo.set_fields()}
    return Decision(write=todo, fields=fields, result=Result.SUCCESS, note=note, correcting=correcting)


def differing(
    desired: Setpoints,
    actual: Setpoints,
    tolerance: Tolerance,
    writable: frozenset[str],
    unsupported: Callable[[Setpoints], Collection[str]],
) -> tuple[Setpoints, frozenset[str]]:
    """What differs among the fields the device can be told, and the differing ones it cannot."""
    todo = diff(desired, actual, tolerance)
    lacking = frozenset(unsupported(todo))
    return restrict(todo, (todo.set_fields() & writable) - lacking), lacking
