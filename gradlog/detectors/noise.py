"""How noisy a series is, and how many records its level must be the median of."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from itertools import islice

from gradlog.detectors.window import sorted_median


def scatter(logs: Sequence[float]) -> float:
    """The typical deviation of one value from its neighbours' trend, robustly.

    Second differences cancel any locally straight trend, so a series that falls or
    climbs steadily is not mistaken for a noisy one; their spread is sqrt(1.5) times that
    of the values themselves, and the median absolute deviation ignores outliers.
    """
    values = logs if isinstance(logs, list) else list(logs)
    # zip over shifted copies: the same bends as indexing, at a fraction of the cost.
    triples = zip(values, values[1:], values[2:], strict=False)
    return bend_scatter([b - (a + c) / 2 for a, b, c in triples])


def bend_scatter(bends: list[float]) -> float:
    """``scatter`` of a series whose bends (second differences) are already taken, in
    any order; the list is sorted in place."""
    if not bends:
        return 0.0
    bends.sort()  # the median and the deviations need only the multiset of bends
    center = sorted_median(bends)
    deviations = sorted([abs(b - center) for b in bends])
    return 1.4826 * sorted_median(deviations) / math.sqrt(1.5)


_MEDIAN_ERROR = 1.2533  # sqrt(pi / 2): the median's standard error over the mean's


def shortest_window(noise: float, windows: Sequence[int], target: float) -> int:
    """The shortest window whose median has a standard error of at most ``target``.

    The median of W values with scatter s has a standard error of about 1.25 s / sqrt(W).
    """
    for window in sorted(windows):
        if _MEDIAN_ERROR * noise / math.sqrt(window) <= target:
            return window
    return max(windows)


_REESTIMATE = 5  # values between two estimates of the noise: it changes slowly


class NoiseGauge:
    """The running-median length a noisy series needs; it only ever grows.

    It keeps the logarithms of the last ``keep`` positive values, estimates their
    scatter every few values once there are ``first``, and answers the shortest of
    ``windows`` whose median has a standard error within ``target`` of the level.

    With ``track``, it goes on estimating once the longest window is reached, and
    ``error`` is the latest standard error of that window's median (relative to the
    level), which may then stay above ``target``: a series noisier than any window can
    calm needs a wider margin, not a longer window.
    """

    def __init__(
        self, windows: Sequence[int], target: float, keep: int, first: int, track: bool = False
    ) -> None:
        self._windows = tuple(sorted(windows))
        self._target = target
        self._first = first
        self._track = track
        self._logs: deque[float] = deque(maxlen=keep)
        self._added = 0
        self.window = self._windows[0]
        self.error = 0.0

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
            if due and (self._track or self.window < self._windows[-1]):
                noise = scatter(list(self._logs))
                self.window = max(self.window, shortest_window(noise, self._windows, self._target))
                self.error = _MEDIAN_ERROR * noise / math.sqrt(self.window)
        return self.window


class Bends:
    """The bends (second differences) of a series' last ``span`` values, each taken once,
    for ``scatter`` of those values and of their last few without taking them again."""

    def __init__(self, span: int) -> None:
        self.span = span
        self._bends: deque[float] = deque(maxlen=max(span - 2, 0))
        self._bent = 1  # the value whose bend is the last taken (the first has none)

    def scatter(self, values: deque[float], seq: int, local: int) -> float:
        """``max(scatter(logs), scatter(logs[-local:]))`` of ``logs``, the last ``span``
        of the ``seq`` values seen; ``values`` holds (at least) the last ``span + 1``."""
        bends = self._take(values, seq)
        count = min(self.span, seq)  # the values the scatter is over
        tail = max((min(local, count) if local > 0 else count) - 2, 0)  # their last few's
        recent = list(islice(bends, len(bends) - tail, None)) if tail else []
        return max(bend_scatter(list(bends)), bend_scatter(recent))

    def _take(self, values: deque[float], seq: int) -> deque[float]:
        """The bends wanted, taking only those of values new since the last call."""
        bends = self._bends
        first = max(self._bent + 1, seq - self.span + 2)  # the first bend wanted
        if first > self._bent + 1:
            bends.clear()  # a gap: those kept are too old to be wanted
        for middle in range(first, seq):
            i = middle - seq - 1  # value number `middle` (the newest, seq, is at -1)
            bends.append(values[i] - (values[i - 1] + values[i + 1]) / 2)
        self._bent = max(self._bent, seq - 1)
        return bends
