"""The detectors, in report order."""

from __future__ import annotations

from gradlog.detectors.base import Detector, Rule
from gradlog.detectors.divergence import DivergenceDetector
from gradlog.detectors.exploding import ExplodingGradientDetector
from gradlog.detectors.large_update import LargeUpdateDetector
from gradlog.detectors.loss_scale import LossScaleCollapseDetector
from gradlog.detectors.nan import NanDetector
from gradlog.detectors.no_metrics import NoMetricsDetector
from gradlog.detectors.oscillation import OscillationDetector
from gradlog.detectors.overfitting import OverfittingDetector
from gradlog.detectors.plateau import ChancePlateauDetector
from gradlog.detectors.spike import LossSpikeDetector
from gradlog.detectors.stalled import StalledDetector
from gradlog.detectors.vanishing import VanishingGradientDetector
from gradlog.detectors.weight_growth import WeightGrowthDetector

DETECTORS: tuple[type[Detector], ...] = (
    NanDetector,
    LossSpikeDetector,
    ExplodingGradientDetector,
    VanishingGradientDetector,
    ChancePlateauDetector,
    OscillationDetector,
    DivergenceDetector,
    LossScaleCollapseDetector,
    LargeUpdateDetector,
    WeightGrowthDetector,
    StalledDetector,
    OverfittingDetector,
    NoMetricsDetector,
)

RULES: dict[str, Rule] = {detector.rule.id: detector.rule for detector in DETECTORS}

__all__ = ["DETECTORS", "RULES", "Detector", "Rule"]
