"""Setpoints: overlay and set_fields, against dataclasses' own view of the fields."""

from dataclasses import fields

from hypothesis import given, strategies as st

from custom_components.battery_steward.engine.state import SETPOINT_FIELDS, Mode, Setpoints, same_basis

values = st.one_of(st.none(), st.floats(min_value=-1e4, max_value=1e4, allow_nan=False))
setpoints = st.builds(
    Setpoints,
    mode=st.one_of(st.none(), st.sampled_from(Mode)),
    reserve_pct=values,
    power_w=values,
    reactive_var=values,
)


def test_the_field_names_are_the_dataclass_fields() -> None:
    assert tuple(f.name for f in fields(Setpoints)) == SETPOINT_FIELDS


@given(setpoints, setpoints)
def test_overlay_takes_what_the_other_sets_and_keeps_the_rest(base: Setpoints, other: Setpoints) -> None:
    result = base.overlay(other)
    for f in fields(Setpoints):
        mine, theirs = getattr(base, f.name), getattr(other, f.name)
        assert getattr(result, f.name) == (mine if theirs is None else theirs)
    assert result.set_fields() == {f.name for f in fields(Setpoints) if getattr(result, f.name) is not None}


def test_a_memo_basis_is_the_same_when_each_part_is_the_same_object_or_equal() -> None:
    plan = object()
    assert same_basis((plan, Setpoints(reserve_pct=20)), (plan, Setpoints(reserve_pct=20)))
    assert not same_basis((plan, Setpoints(reserve_pct=20)), (plan, Setpoints(reserve_pct=30)))
    assert not same_basis((object(), 1), (plan, 1))  # another object that is not equal
    assert not same_basis(None, (plan,))  # nothing worked out yet
