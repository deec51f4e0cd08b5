"""A pure battery model for the simulator: no I/O, no clock, advanced by explicit time steps.

Sign convention everywhere: active power is + discharge, - charge (W); reactive power is + export (var).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
import math
import random
from typing import Any

from ..registers import MODE_CODES

_FORCE_CHARGE = MODE_CODES["force_charge"]
_FORCE_DISCHARGE = MODE_CODES["force_discharge"]
_IDLE = MODE_CODES["idle"]

# Longest internal integration step. Targets change when SoC crosses a limit, so big jumps of a fake
# clock are split into steps this long; the lag inside a step is integrated exactly.
MAX_STEP_S = 0.25

# Below this measured |P| (W) the state register reports idle.
IDLE_THRESHOLD_W = 10.0


@dataclass(frozen=True, kw_only=True, slots=True)
class SimConfig:
    """Fixed properties of a simulated battery and its starting state."""

    serial: str
    model: str = "Steward Sim 10"
    firmware: str = "1.0.0"
    capacity_kwh: float = 10.0
    max_charge_w: int = 5000
    max_discharge_w: int = 5000
    max_apparent_va: int = 6000
    soc_pct: float = 50.0
    reserve_pct: int = 20
    tau_s: float = 2.0  # first-order lag time constant of the power response
    noise_w: float = 5.0  # measured P/Q carry uniform noise of at most this much (0 = deterministic)
    seed: int = 0  # noise is reproducible

    def __post_init__(self) -> None:
        """Reject configurations the register map or the model cannot represent."""
        for name, text, limit in (
            ("serial", self.serial, 16),
            ("model", self.model, 16),
            ("firmware", self.firmware, 8),
        ):
            if not text or not text.isascii() or len(text) > limit:
                raise ValueError(f"{name} must be 1..{limit} ASCII characters, got {text!r}")
        if self.capacity_kwh <= 0:
            raise ValueError("capacity_kwh must be positive")
        if min(self.max_charge_w, self.max_discharge_w, self.max_apparent_va) <= 0:
            raise ValueError("power limits must be positive")
        if not 0 <= self.soc_pct <= 100 or not 0 <= self.reserve_pct <= 100:
            raise ValueError("soc_pct and reserve_pct must be within 0..100")
        if self.tau_s <= 0 or self.noise_w < 0:
            raise ValueError("tau_s must be positive and noise_w not negative")


class BatteryModel:
    """Battery + inverter behaviour: targets by mode, limits, first-order lag, SoC and energy.

    Controls are plain attributes so a driver, a test or an "outside actor" can change them; the
    simulator server validates values coming over Modbus before they get here.
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        # Controls.
        self.mode: int = MODE_CODES["auto"]
        self.reserve_pct: int = config.reserve_pct
        # The rate of the force modes (magnitude; 0 is 0 W). At power-on the full rate, so a
        # force mode chosen without a rate runs at the full rate, and says so.
        self.power_setpoint_w: int = config.max_discharge_w
        self.reactive_setpoint_var: int = 0
        self.enabled: bool = True
        self.site_load_w: int = 0  # + consumption the battery covers in auto mode, - surplus
        # Limits a presentation may impose (SunSpec model 124's active InWRte/OutWRte, in W):
        # in auto, charging and discharging are capped there; None = no cap.
        self.charge_limit_w: float | None = None
        self.discharge_limit_w: float | None = None
        # Whether forced charging may draw from the grid (SunSpec ChaGriSet); if not, it takes
        # only the PV surplus (a negative site load).
        self.grid_charge: bool = True
        # Fault injection: when set, active power stays here whatever the target (a battery that
        # refuses to ramp down), for safe-stop tests.
        self.stuck_power_w: float | None = None
        # State.
        self.soc_pct: float = config.soc_pct
        self.charge_energy_kwh: float = 0.0
        self.discharge_energy_kwh: float = 0.0
        self._p_w = 0.0  # true active power, noise-free
        self._q_var = 0.0
        self._noise_p = 0.0
        self._noise_q = 0.0
        self._rng = random.Random(config.seed)  # noqa: S311 - simulation noise, not security

    # Persistence --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, float | int | bool]:
        """What a restart must not lose: state of charge, energy counters and the controls."""
        return {
            "soc_pct": round(self.soc_pct, 4),
            "charge_energy_kwh": round(self.charge_energy_kwh, 6),
            "discharge_energy_kwh": round(self.discharge_energy_kwh, 6),
            "mode": self.mode,
            "reserve_pct": self.reserve_pct,
            "power_setpoint_w": self.power_setpoint_w,
            "reactive_setpoint_var": self.reactive_setpoint_var,
            "enabled": self.enabled,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back a snapshot() (values out of range or of the wrong type are left as they are)."""
        cfg = self.config
        checks: dict[str, Callable[[Any], bool]] = {
            "soc_pct": lambda v: 0 <= v <= 100,
            "charge_energy_kwh": lambda v: v >= 0,
            "discharge_energy_kwh": lambda v: v >= 0,
            "mode": lambda v: v in MODE_CODES.values(),
            "reserve_pct": lambda v: 0 <= v <= 100,
            "power_setpoint_w": lambda v: -cfg.max_charge_w <= v <= cfg.max_discharge_w,
            "reactive_setpoint_var": lambda v: abs(v) <= cfg.max_apparent_va,
            "enabled": lambda v: isinstance(v, bool),
        }
        for name, valid in checks.items():
            value = state.get(name)
            if isinstance(value, int | float) and valid(value):
                setattr(self, name, type(getattr(self, name))(value))

    # Measurements -------------------------------------------------------------------------------

    @property
    def active_power_w(self) -> float:
        """Measured active power (+ discharge, - charge), with noise."""
        return self._p_w + self._noise_p

    @property
    def reactive_power_var(self) -> float:
        """Measured reactive power, with noise."""
        return self._q_var + self._noise_q

    @property
    def voltage_v(self) -> float:
        """Battery voltage: a simple linear open-circuit curve over SoC."""
        return 44.0 + 10.0 * self.soc_pct / 100.0

    @property
    def temperature_c(self) -> float:
        """Cell temperature: warmer with load, relative to the apparent power limit."""
        apparent = math.hypot(self._p_w, self._q_var)
        return 25.0 + 5.0 * min(apparent / self.config.max_apparent_va, 1.0)

    @property
    def state(self) -> str:
        """What the battery is doing (a STATE_CODES key), from the measured power."""
        if not self.enabled:
            return "disabled"
        power = self.active_power_w
        if abs(power) <= max(IDLE_THRESHOLD_W, 2 * self.config.noise_w):
            return "idle"
        return "discharging" if power > 0 else "charging"

    # Targets ------------------------------------------------------------------------------------

    def target_active_w(self) -> float:
        """Active power the inverter is heading for, after mode, SoC limits and power limits."""
        cfg = self.config
        target: float
        if not self.enabled or self.mode == _IDLE:
            target = 0.0
        elif self.mode == _FORCE_CHARGE:
            target = -min(abs(self.power_setpoint_w), cfg.max_charge_w)
            if not self.grid_charge:
                target = max(target, min(float(self.site_load_w), 0.0))
        elif self.mode == _FORCE_DISCHARGE:
            target = min(abs(self.power_setpoint_w), cfg.max_discharge_w)
        else:  # auto: cover the site load, within the limits imposed
            target = float(self.site_load_w)
            if self.charge_limit_w is not None:
                target = max(target, -self.charge_limit_w)
            if self.discharge_limit_w is not None:
                target = min(target, self.discharge_limit_w)
        if self.soc_pct <= self.reserve_pct or self.soc_pct <= 0:
            target = min(target, 0.0)
        if self.soc_pct >= 100:
            target = max(target, 0.0)
        # The inverter's apparent-power rating bounds active power too (Q then gets what is left).
        charge_limit = min(cfg.max_charge_w, cfg.max_apparent_va)
        discharge_limit = min(cfg.max_discharge_w, cfg.max_apparent_va)
        return max(-charge_limit, min(discharge_limit, target))

    def target_reactive_var(self, active_w: float) -> float:
        """Reactive power target, limited so P keeps priority within the apparent power limit."""
        if not self.enabled:
            return 0.0
        return _limit_q(float(self.reactive_setpoint_var), active_w, self.config.max_apparent_va)

    # Time ---------------------------------------------------------------------------------------

    def advance(self, dt_s: float) -> None:
        """Move the battery forward by dt_s seconds."""
        remaining = dt_s
        while remaining > 1e-9:
            step = min(remaining, MAX_STEP_S)
            self._step(step)
            remaining -= step
        if dt_s > 0:
            self._sample_noise()

    def _step(self, dt: float) -> None:
        cfg = self.config
        p0 = self._p_w
        if self.stuck_power_w is not None:
            p1 = self.stuck_power_w
            energy_ws = p1 * dt
        else:
            target = self.target_active_w()
            decay = math.exp(-dt / cfg.tau_s)
            p1 = target + (p0 - target) * decay
            # Exact integral of the lag over the step.
            energy_ws = target * dt + (p0 - target) * cfg.tau_s * (1.0 - decay)
        q_target = self.target_reactive_var(p1)
        q1 = q_target + (self._q_var - q_target) * math.exp(-dt / cfg.tau_s)
        q1 = _limit_q(q1, p1, cfg.max_apparent_va)

        capacity_ws = cfg.capacity_kwh * 3_600_000.0
        soc0 = self.soc_pct
        soc1 = soc0 - energy_ws / capacity_ws * 100.0
        if self.stuck_power_w is None:
            # The BMS cuts discharge when SoC reaches the reserve and charge when the cells are full.
            if energy_ws > 0 and soc0 >= self.reserve_pct and soc1 < self.reserve_pct:
                soc1 = float(self.reserve_pct)
                p1 = min(p1, 0.0)
            if soc1 > 100.0:
                soc1 = 100.0
                p1 = max(p1, 0.0)
        soc1 = min(100.0, max(0.0, soc1))
        delivered_kwh = (soc0 - soc1) / 100.0 * cfg.capacity_kwh
        if delivered_kwh > 0:
            self.discharge_energy_kwh += delivered_kwh
        else:
            self.charge_energy_kwh -= delivered_kwh
        self.soc_pct = soc1
        self._p_w = p1
        self._q_var = q1

    def _sample_noise(self) -> None:
        noise = self.config.noise_w
        # An inverter at rest reads a clean zero; noise only rides on real power flow.
        self._noise_p = self._rng.uniform(-noise, noise) if noise and abs(self._p_w) >= 1 else 0.0
        self._noise_q = self._rng.uniform(-noise, noise) if noise and abs(self._q_var) >= 1 else 0.0


def _limit_q(q: float, p: float, max_apparent: float) -> float:
    """Scale |q| down (keeping its sign) so that sqrt(p² + q²) <= max_apparent."""
    room = math.sqrt(max(max_apparent**2 - p**2, 0.0))
    return math.copysign(min(abs(q), room), q)
