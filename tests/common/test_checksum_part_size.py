"""The S3 part-size rule (DESIGN §5), compared with the seed's own function around every boundary."""

from __future__ import annotations

import random

import pytest

from support.checksums import MIB, PART, seed_part_size
from upload_common.checksums import MAX_PARTS, MIN_PART_SIZE, s3_part_count, s3_part_size
from upload_common.errors import InvalidInputError

SWITCH = 10_000 * PART  # 625 GiB: the largest size that still has 64 MiB parts
TIB = 1024**4


@pytest.mark.parametrize(
    "size",
    [0, 1, PART - 1, PART, PART + 1, 3 * PART + 5, SWITCH - 1, SWITCH, SWITCH + 1, SWITCH + MIB, 5 * TIB],
)
def test_the_rule_matches_the_seeds_function(size: int) -> None:
    assert s3_part_size(size) == seed_part_size(size)


def test_the_rule_matches_the_seeds_function_on_random_sizes_up_to_5_tib() -> None:
    sizes = random.Random(20261128).sample(range(5 * TIB), 2000)  # noqa: S311 - test data
    assert [s3_part_size(size) for size in sizes] == [seed_part_size(size) for size in sizes]


def test_64_mib_parts_up_to_625_gib_then_bigger_whole_mib_parts() -> None:
    assert MIN_PART_SIZE == 64 * MIB
    assert s3_part_size(SWITCH) == 64 * MIB
    assert s3_part_count(SWITCH) == MAX_PARTS
    # One byte more no longer fits in 10,000 parts of 64 MiB: ceil(size / 10,000) rounded up to a MiB.
    assert s3_part_size(SWITCH + 1) == 65 * MIB
    assert s3_part_count(SWITCH + 1) == 9_847


@pytest.mark.parametrize("size", [SWITCH + 1, SWITCH + 12_345_678, 700 * 1024**3, 5 * TIB, 5 * TIB + 1])
def test_above_the_switch_parts_are_whole_mib_and_never_more_than_10000(size: int) -> None:
    part = s3_part_size(size)
    assert part % MIB == 0
    assert part > 64 * MIB
    assert (part - MIB) * MAX_PARTS < size <= part * MAX_PARTS  # the smallest whole-MiB size that fits
    assert s3_part_count(size) <= MAX_PARTS


@pytest.mark.parametrize(
    ("size", "parts"),
    [(0, 0), (1, 1), (PART - 1, 1), (PART, 1), (PART + 1, 2), (10_241 * MIB, 161), (SWITCH, 10_000)],
)
def test_part_count(size: int, parts: int) -> None:
    # 10,241 MiB -> 161 parts is the seed's own test fixture.
    assert s3_part_count(size) == parts


@pytest.mark.parametrize("size", [-1, 1.5, "10", True])
def test_a_size_that_is_not_a_non_negative_integer_is_refused(size: object) -> None:
    with pytest.raises(InvalidInputError):
        s3_part_size(size)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        s3_part_count(size)  # type: ignore[arg-type]
