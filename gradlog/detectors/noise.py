"""How noisy a series is, and how many records its level must be the median of."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from gradlog.detectors.base import median


def scatter(logs: Sequence[float]) -> float:
    """The typical deviation of one value from its neighbours' trend, robustly.

    Second differences cancel any locally straight trend, so a series that falls or
    climbs steadily is not mistaken for a noisy one; their spread is sqrt(1.5) times that
    of the values themselves, and the median absolute deviation ignores outliers.
    """
    bends = [logs[i] - (logs[i - 1] + logs[i + 1]) / 2 for i in range(1, len(logs) - 1)]
    if not bends:
        return 0.0
    center = median(bends)
    return 1.4826 * median([abs(b - center) for b in bends]) / math.sqrt(1.5)


def shortest_window(noise: float, windows: Sequence[int], target: float) -> int:
    """The shortest window whose median has a standard error of at most ``target``.

    The median of W values with scatter s has a standard error of about 1.25 s / sqrt(W).
    """
    for window in sorted(windows):
        if 1.2533 * noise / math.sqrt(window) <= target:
            return window
    return max(windows)


_REESTIMATE = 5  # values between two estimates of the noise: it changes slowly


class NoiseGauge:
    """The running-median length a noisy series needs; it only ever grows.

    It keeps the logarithms of the last ``keep`` positive values, estimates their
    scatter every few values once there are ``first``, and answers the shortest of
    ``windows`` whose median has a standard error within ``target`` of the level.
    """

    def __init__(self, windows: Sequence[int], target: float, keep: int, first: int) -> None:
        self._windows = tuple(sorted(windows))
        self._target = target
        self._first = first
        self._logs: deque[float] = deque(maxlen=keep)
        self._added = 0
        self.window = self._windows[0]

    @property
    def ready(self) -> bool:
        """Whether enough values were seen to estimate the noise."""
        return self._added >= self._first

    def add(self, value: float) -> int:
        """Take the next value; return the window the series needs so far."""
        if value > 0:
            self._logs.append(math.log(value))
            self._added += 1
            due = self.ready and (self._added - self._first) % _REESTIMATE == 0
            if due and self.window < self._windows[-1]:
                noise = scatter(list(self._logs))
                self.window = max(self.window, shortest_window(noise, self._windows, self._target))
        return self.window
