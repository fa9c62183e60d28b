"""Longer runs of the property-based tests in tests/hostile/test_properties.py.

Usage: python bench/fuzz.py [--examples N] [--seed S]

Runs each property with N random examples (default 2,000) instead of CI's fixed budget and
prints, per property, the examples tried, the time taken and the outcome. A failure prints
hypothesis' smallest falsifying example and exits 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.hostile import test_properties as props

PROPERTIES = (
    ("render", given(props.LOGS)(props.check_render)),
    ("chunks", given(props.LOGS, props.CUTS)(props.check_chunks)),
    ("pauses", given(props.LOGS, props.CUTS)(props.check_pauses)),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    budget = settings(
        max_examples=args.examples,
        deadline=None,
        derandomize=False,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    failed = 0
    for name, prop in PROPERTIES:
        start = time.perf_counter()
        try:
            seed(args.seed)(budget(prop))()
            outcome = "ok"
        except Exception as exc:  # hypothesis re-raises the falsifying example's error
            outcome, failed = f"FAILED: {type(exc).__name__}: {exc}", failed + 1
        took = time.perf_counter() - start
        print(f"{name}: {args.examples:,} examples, {took:.1f} s, {outcome}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
