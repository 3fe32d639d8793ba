"""Exact, order-independent sums of exponentially time-decayed values.

A value v observed at time t contributes v * 2^((t - now) / half_life) at analysis time ``now``. Because
2^(-now/h) is a common factor, the running state only needs S = sum(v * 2^(t/h)), which can be updated one
observation at a time regardless of history length. Floating-point sums depend on the order of addition,
and the engine promises that arrival order never changes a result, so each term is rounded once to a
fixed-point integer and the integers are summed exactly (Python ints do not overflow).
Times are days since 1970-01-01 UTC (earlier times count as 1970).
"""

from __future__ import annotations

import math

_FRACTION_BITS = 40  # precision of one term's mantissa: far below anything a rounded output can show
SECONDS_PER_DAY = 86400.0


def term(value: float, day: float, half_life_days: float) -> int:
    """The fixed-point integer for value * 2^(day / half_life)."""
    exponent = max(0.0, day / half_life_days)
    whole = math.floor(exponent)
    mantissa = round(value * 2.0 ** (exponent - whole) * (1 << _FRACTION_BITS))
    return mantissa << whole


def evaluate(total: int, day: float, half_life_days: float) -> float:
    """sum(v * 2^((t - day) / half_life)) from the fixed-point ``total``."""
    if total == 0:
        return 0.0
    exponent = max(0.0, day / half_life_days)
    whole = math.floor(exponent)
    # int / int is correctly rounded even for very large ints; only the fractional factor is a float product
    return total / (1 << (whole + _FRACTION_BITS)) * 2.0 ** (whole - exponent)


def decay_factor(age_days: float, half_life_days: float) -> float:
    """Weight of something ``age_days`` old (future events count as now)."""
    return 2.0 ** (-max(0.0, age_days) / half_life_days)
