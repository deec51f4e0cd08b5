"""Fight detection: stop correcting a field that something else keeps changing.

When the same field has had to be corrected more than `max_corrections` times within `window_s`,
the field is suspended: the controller stops writing it and raises a repair issue. A suspended
field resumes when the user resolves the repair, or when the battery stops drifting (the value
someone else set has stayed put for a whole window, so we try once more).

Why corrections keep being needed is a separate question (`diagnosis`). Something else is
writing only when a reading showed a change we did not make: the value moved away from ours
after the battery had taken it, or to a third value. A battery that acknowledges every write
and reads back the old value each time, never ours, is not fought by anyone: our writes have no
effect (`no_effect`, with its own repair), and no other controller is to blame.
"""

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, kw_only=True, slots=True)
class FightSettings:
    """Options: how many corrections within how long count as a fight."""

    max_corrections: int = 3
    window_s: float = 3600.0


class Diagnosis(StrEnum):
    """Why a field keeps needing corrections (the repair issue to raise)."""

    FOREIGN_WRITER = "fight"  # something else changes it
    NO_EFFECT = "no_effect"  # the battery acknowledges our writes and keeps its value


@dataclass(kw_only=True, slots=True)
class _FieldState:
    corrections: deque[float] = field(default_factory=deque)
    values_seen: deque[str] = field(default_factory=lambda: deque(maxlen=5))
    suspended_at: float | None = None
    last_actual: str | None = None
    stable_since: float | None = None
    # The last write and what the battery had before it; what readings showed since.
    wrote: str | None = None
    before: str | None = None
    ours_seen: bool = False
    foreign_seen: bool = False


class FightDetector:
    """Per-field correction counts; pure and clock-free (callers pass monotonic seconds)."""

    def __init__(self, settings: FightSettings) -> None:
        """Start with no corrections and nothing suspended."""
        self.settings = settings
        self._fields: dict[str, _FieldState] = {}

    def _state(self, name: str) -> _FieldState:
        return self._fields.setdefault(name, _FieldState())

    @property
    def suspended(self) -> frozenset[str]:
        """Fields we have stopped correcting."""
        return frozenset(n for n, s in self._fields.items() if s.suspended_at is not None)

    def values_seen(self, name: str) -> list[str]:
        """The other side's values we corrected, newest last (for the repair issue)."""
        return list(self._state(name).values_seen)

    def record_correction(self, name: str, found: str, now: float) -> bool:
        """Count one correction of `name` (the battery had `found`); True when it starts a fight."""
        state = self._state(name)
        state.corrections.append(now)
        state.values_seen.append(found)
        while state.corrections and state.corrections[0] < now - self.settings.window_s:
            state.corrections.popleft()
        if state.suspended_at is None and len(state.corrections) > self.settings.max_corrections:
            state.suspended_at = now
            state.last_actual = found
            state.stable_since = now
            return True
        return False

    def observe(self, name: str, actual: str, now: float) -> bool:
        """Watch a suspended field; True when it has been stable for a window (resume it)."""
        state = self._state(name)
        if state.suspended_at is None:
            return False
        if actual != state.last_actual:
            state.last_actual = actual
            state.stable_since = now
            return False
        if state.stable_since is not None and now - state.stable_since >= self.settings.window_s:
            self.resume(name)
            return True
        return False

    def record_write(self, name: str, before: str, value: str) -> None:
        """We wrote `value` where the battery had `before`; later readings are judged against it."""
        state = self._state(name)
        state.wrote, state.before, state.ours_seen = value, before, False

    def read_back(self, name: str, actual: str) -> None:
        """A reading of a field we wrote: our value, the old one, or a change we did not make."""
        state = self._fields.get(name)
        if state is None or state.wrote is None:
            return
        if actual == state.wrote:
            state.ours_seen = True
        elif state.ours_seen or actual != state.before:
            state.foreign_seen = True  # moved away from ours, or to a value nobody here wrote

    def diagnosis(self, name: str) -> Diagnosis:
        """Why the field keeps needing corrections.

        A foreign writer only on evidence: a change we did not make, seen since the count began.
        Writes that were acknowledged and never showed in a reading are `no_effect`. Without any
        write recorded there is nothing to judge by, and the answer stays a foreign writer.
        """
        state = self._state(name)
        if state.wrote is None or state.foreign_seen:
            return Diagnosis.FOREIGN_WRITER
        return Diagnosis.NO_EFFECT

    def resume(self, name: str) -> None:
        """Correct the field again, with a clean count."""
        self._fields.pop(name, None)
