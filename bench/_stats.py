"""Statistics shared by the benchmarks: one percentile, one summary, one ratio format.

One percentile definition for every script: linear interpolation between the two
closest ranks, numpy's default (``numpy.percentile(..., method="linear")``, type 7 of
Hyndman & Fan). For ``n`` sorted samples the ``q``-th percentile sits at rank
``(n - 1) * q / 100``: p0 is the minimum, p100 the maximum, p50 of an even count is
the mean of the two middle samples. ``q`` is in percent (0 to 100), as in numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict

__all__ = ["Summary", "percentile", "ratio", "summary"]


class Summary(TypedDict):
    """Count and p50/p95/p99/max/mean of samples, in the samples' unit; None when n is 0."""

    n: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    mean: float | None


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (``q`` from 0 to 100) by linear interpolation.

    Args:
        samples: The values, in any order.
        q: The percentile, 0 to 100 (50 is the median).

    Raises:
        ValueError: No samples, or ``q`` outside 0 to 100.
    """
    if not samples:
        raise ValueError("percentile of no samples; check len(samples) first")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q is in percent, 0 to 100, not {q!r}")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(samples: Sequence[float]) -> Summary:
    """n, p50, p95, p99, max and mean of ``samples`` (all None but n for no samples)."""
    if not samples:
        return Summary(n=0, p50=None, p95=None, p99=None, max=None, mean=None)
    return Summary(
        n=len(samples),
        p50=percentile(samples, 50),
        p95=percentile(samples, 95),
        p99=percentile(samples, 99),
        max=max(samples),
        mean=sum(samples) / len(samples),
    )


def ratio(value: float | None, base: float | None, *, digits: int = 1) -> str:
    """``value / base`` as ``"2.3×"``; ``"-"`` when either is missing or ``base`` is not > 0."""
    if value is None or base is None or not base > 0:
        return "-"
    return f"{value / base:,.{digits}f}×"
