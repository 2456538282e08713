"""An amount with more digits than decimal arithmetic holds fails its record with a plain reason."""

from __future__ import annotations

import pytest

from mappings.coercion import to_money


def test_a_forty_digit_amount_is_too_large_to_be_money() -> None:
    with pytest.raises(ValueError, match=r"^an amount of 42 digits is too large to be money$"):
        to_money("1234567890123456789012345678901234567890.12", "USD")


def test_a_large_but_exact_amount_is_still_money() -> None:
    assert str(to_money("12345678901234567890123456.12", "USD")) == "12345678901234567890123456.12"
