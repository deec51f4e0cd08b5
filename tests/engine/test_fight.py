"""The diagnosis of fight detection: a foreign writer needs a change we did not make (issue 18)."""

from custom_components.battery_steward.engine.fight import Diagnosis, FightDetector, FightSettings


def _corrections(detector: FightDetector, readings: list[list[str]], *, ours: str = "80") -> bool:
    """Write `ours` once per round, where the battery had the round's first reading, then read."""
    started = False
    for t, round_readings in enumerate(readings):
        found = round_readings[0]
        started = detector.record_correction("reserve_pct", found, float(t)) or started
        detector.record_write("reserve_pct", found, ours)
        for actual in round_readings[1:]:
            detector.read_back("reserve_pct", actual)
    return started


def test_acknowledged_writes_that_never_show_are_no_effect() -> None:
    """The adversarial run's battery: every write accepted, the read-back always the old value."""
    detector = FightDetector(FightSettings(max_corrections=3))
    assert _corrections(detector, [["20", "20", "20"]] * 4)
    assert detector.suspended == {"reserve_pct"}
    assert detector.diagnosis("reserve_pct") is Diagnosis.NO_EFFECT


def test_a_value_moved_away_from_ours_is_a_foreign_writer() -> None:
    """Our value was read back, then something else put its own back."""
    detector = FightDetector(FightSettings(max_corrections=3))
    assert _corrections(detector, [["20", "80", "20"]] * 4)
    assert detector.diagnosis("reserve_pct") is Diagnosis.FOREIGN_WRITER


def test_a_third_value_is_a_foreign_writer() -> None:
    """Never ours, but a value nobody here wrote: someone else is writing."""
    detector = FightDetector(FightSettings(max_corrections=3))
    assert _corrections(detector, [["20", "20"], ["20", "35"], ["35", "35"], ["35", "35"]])
    assert detector.diagnosis("reserve_pct") is Diagnosis.FOREIGN_WRITER


def test_without_writes_recorded_the_diagnosis_stays_a_foreign_writer() -> None:
    detector = FightDetector(FightSettings(max_corrections=1))
    detector.record_correction("mode", "auto", 0.0)
    assert detector.record_correction("mode", "auto", 1.0)
    detector.read_back("mode", "auto")  # nothing written: nothing to judge by
    assert detector.diagnosis("mode") is Diagnosis.FOREIGN_WRITER


def test_evidence_is_forgotten_on_resume() -> None:
    detector = FightDetector(FightSettings(max_corrections=3))
    _corrections(detector, [["20", "80", "20"]] * 4)
    detector.resume("reserve_pct")
    assert detector.suspended == frozenset()
    assert _corrections(detector, [["20", "20"]] * 4)
    assert detector.diagnosis("reserve_pct") is Diagnosis.NO_EFFECT


def test_a_reading_of_a_field_never_written_is_ignored() -> None:
    detector = FightDetector(FightSettings())
    detector.read_back("power_w", "100")
    assert detector.suspended == frozenset()
