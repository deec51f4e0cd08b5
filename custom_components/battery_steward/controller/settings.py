"""Options that shape a controller, parsed from an entry's options in one place."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Self

from ..const import (
    CONF_FIGHT_MAX,
    CONF_FIGHT_WINDOW_MIN,
    CONF_JOURNAL_SIZE,
    CONF_PATROL_MIN,
    CONF_SAFE_STOP_THRESHOLD_PCT,
    CONF_SAFE_STOP_TIMEOUT_S,
    CONF_VERIFY_S,
    DEFAULT_FIGHT_MAX,
    DEFAULT_FIGHT_WINDOW_MIN,
    DEFAULT_JOURNAL_SIZE,
    DEFAULT_PATROL_MIN,
    DEFAULT_SAFE_STOP_THRESHOLD_PCT,
    DEFAULT_SAFE_STOP_TIMEOUT_S,
    DEFAULT_VERIFY_S,
)
from ..engine.fight import FightSettings


@dataclass(frozen=True, kw_only=True, slots=True)
class ControllerSettings:
    """Options that shape a controller."""

    patrol_interval: timedelta = timedelta(minutes=DEFAULT_PATROL_MIN)
    settle_s: float = 0.5
    verify_timeout_s: float = float(DEFAULT_VERIFY_S)
    fight: FightSettings = field(default_factory=FightSettings)
    journal_size: int = DEFAULT_JOURNAL_SIZE
    # Safe stop (the button, source and transport switches, the action's defaults).
    safe_stop_threshold_pct: float = float(DEFAULT_SAFE_STOP_THRESHOLD_PCT)
    safe_stop_timeout_s: float = DEFAULT_SAFE_STOP_TIMEOUT_S

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        """Settings from an entry's options (defaults for what they leave out)."""
        return cls(
            patrol_interval=timedelta(minutes=options.get(CONF_PATROL_MIN, DEFAULT_PATROL_MIN)),
            verify_timeout_s=float(options.get(CONF_VERIFY_S, DEFAULT_VERIFY_S)),
            fight=FightSettings(
                max_corrections=int(options.get(CONF_FIGHT_MAX, DEFAULT_FIGHT_MAX)),
                window_s=60.0 * options.get(CONF_FIGHT_WINDOW_MIN, DEFAULT_FIGHT_WINDOW_MIN),
            ),
            journal_size=int(options.get(CONF_JOURNAL_SIZE, DEFAULT_JOURNAL_SIZE)),
            safe_stop_threshold_pct=float(
                options.get(CONF_SAFE_STOP_THRESHOLD_PCT, DEFAULT_SAFE_STOP_THRESHOLD_PCT)
            ),
            safe_stop_timeout_s=float(options.get(CONF_SAFE_STOP_TIMEOUT_S, DEFAULT_SAFE_STOP_TIMEOUT_S)),
        )
