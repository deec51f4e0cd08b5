"""Block planner."""

import pytest

from custom_components.battery_steward.device import registers as r
from custom_components.battery_steward.device.blocks import Block, Layout, extract, plan_blocks
from custom_components.battery_steward.device.profiles.base import decoded, values_of


def test_polled_registers_are_one_read_with_reserved_gap() -> None:
    assert plan_blocks(r.POLLED, max_gap=8) == [Block(start=100, count=27)]


def test_gap_not_bridged_without_leave() -> None:
    assert plan_blocks(r.POLLED) == [Block(start=100, count=12), Block(start=120, count=7)]


def test_identity_contiguous() -> None:
    assert plan_blocks(r.IDENTITY) == [Block(start=0, count=30)]


def test_max_count_splits() -> None:
    regs = [
        r.Register(name="a", address=0, type=r.RegType.U16),
        r.Register(name="b", address=1, type=r.RegType.U32),
        r.Register(name="c", address=3, type=r.RegType.U16),
    ]
    assert plan_blocks(regs, max_count=2) == [
        Block(start=0, count=1),
        Block(start=1, count=2),
        Block(start=3, count=1),
    ]


def test_register_longer_than_a_read_is_refused() -> None:
    with pytest.raises(ValueError, match="longer"):
        plan_blocks([r.Register(name="s", address=0, type=r.RegType.STR, length=200)])


def test_extract() -> None:
    blocks = [Block(start=10, count=2), Block(start=20, count=2)]
    data = [[1, 2], [3, 4]]
    assert extract(blocks, data, r.Register(name="x", address=21, type=r.RegType.U16)) == [4]
    with pytest.raises(KeyError):
        extract(blocks, data, r.Register(name="y", address=30, type=r.RegType.U16))


def test_a_layout_finds_each_register_where_extract_does() -> None:
    for blocks in (plan_blocks(r.POLLED, max_gap=8), plan_blocks(r.POLLED)):
        layout = Layout.of(blocks, r.POLLED)
        data = [list(range(block.start, block.end)) for block in blocks]  # each word its address
        assert [data[i][a:b] for _, i, a, b in layout.places] == [
            extract(blocks, data, reg) for reg in r.POLLED
        ]
        assert decoded(layout, data) == values_of(blocks, data, r.POLLED)
    with pytest.raises(KeyError):
        Layout.of([Block(start=10, count=2)], [r.Register(name="y", address=30, type=r.RegType.U16)])


@pytest.mark.parametrize(
    ("reg", "value"),
    [
        (r.R_ACTIVE_POWER, -1234),
        (r.R_TEMPERATURE, -5.5),
        (r.R_SOC, 55.55),
        (r.R_CAPACITY, 13.5),
        (r.R_SERIAL, "SIM-0001"),
        (r.R_MODE, 3),
    ],
)
def test_encode_decode_round_trip(reg: r.Register, value: float | str) -> None:
    decoded = r.decode(reg, r.encode(reg, value))
    if isinstance(value, float):
        assert decoded == pytest.approx(value)
    else:
        assert decoded == value
