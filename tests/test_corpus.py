"""The shared corpora of labelled logs, when they are present beside the checkout.

Each folder is read through its ``labels.json`` (never by globbing), in place, never
copied. Every labelled log must be read without a crash and must yield its loss series,
plus its grad-norm and loss-scale series where the log prints them. Accuracy on the
labels is measured by ``python -m gradlog.eval`` on the same files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gradlog.engine import analyze
from gradlog.parse.names import GRAD_NORM, LOSS_SCALE
from gradlog.sources import read_file
from tests.helpers import CORPUS

FOLDERS = (CORPUS, CORPUS / "real")

# Excerpts that print no loss at all (only gradient-clipping lines).
NO_LOSS_PRINTED = frozenset({"real/12_caffe_exploding_gradient.log"})

# Series a log prints besides its loss, as the labels' notes describe them.
ALSO_PRINTED: dict[str, tuple[str, ...]] = {
    "real/04_yolact_loss_scale_collapse.log": (LOSS_SCALE,),
    "real/11_fairseq_healthy.log": (GRAD_NORM, LOSS_SCALE),
    "real/12_caffe_exploding_gradient.log": (GRAD_NORM,),
    "real/16_fairseq_loss_scale_collapse.log": (GRAD_NORM, LOSS_SCALE),
    "real/17_llmc_healthy.log": (GRAD_NORM,),
    "real/19_hf_healthy.log": (GRAD_NORM,),
    "real/20_hf_nan.log": (GRAD_NORM,),
    "real/21_fairseq_healthy.log": (GRAD_NORM, LOSS_SCALE),
    "real/22_fairseq_exploding_gradient.log": (GRAD_NORM,),
    "real/23_audiocraft_healthy.log": (GRAD_NORM, LOSS_SCALE),
    "real/26_apex_loss_scale_collapse.log": (LOSS_SCALE,),
    "real/36_llmc_nan.log": (GRAD_NORM,),
    "real/38_pytorch_stalled.log": (GRAD_NORM,),
}


def labelled(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The (log, label) pairs a folder's ``labels.json`` names."""
    labels = folder / "labels.json"
    if not labels.is_file():
        return []
    entries = json.loads(labels.read_text(encoding="utf-8"))
    return [(folder / entry["file"], entry) for entry in entries]


def _cases() -> list[Any]:
    cases = []
    for folder in FOLDERS:
        for path, label in labelled(folder):
            name = str(path.relative_to(CORPUS))
            cases.append(pytest.param(path, label, id=name))
    return cases


CASES = _cases()


@pytest.mark.skipif(not CASES, reason="../shared/corpus is not present")
@pytest.mark.parametrize(("path", "label"), CASES)
def test_corpus_log_yields_its_series(path: Path, label: dict[str, Any]) -> None:
    report = analyze(read_file(str(path)), path.name)
    if "no_metrics" in label.get("expected", []):
        return
    name = str(path.relative_to(CORPUS))
    metrics = report.input.metrics
    if name not in NO_LOSS_PRINTED:
        assert "loss" in metrics or "val_loss" in metrics, f"no loss series; read {metrics}"
    for series in ALSO_PRINTED.get(name, ()):
        assert series in metrics, f"no {series} series; read {metrics}"
