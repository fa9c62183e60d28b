"""Configuration that cannot be meant: out-of-range thresholds, special files, and files
in shared parent directories that must not apply."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradlog.configfile import find

LOG = "step 1 loss 2.30\nstep 2 loss 2.10\nstep 3 loss 1.90\n"


def gradlog(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gradlog", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[thresholds.oscillation]\nwindow = 0\n", "thresholds.oscillation.window"),
        ("[thresholds.chance_plateau]\nmin-records = 0\n", "thresholds.chance_plateau.min-records"),
        ("[thresholds.chance_plateau]\nclasses = [0, 2]\n", "thresholds.chance_plateau.classes[0]"),
        ("[thresholds.chance_plateau]\nclasses = []\n", "thresholds.chance_plateau.classes"),
        ("[thresholds.overfitting]\nwindows = [0]\n", "thresholds.overfitting.windows[0]"),
        ("[thresholds.exploding_gradient]\nearly-records = 0\n", "early-records"),
        ("[thresholds.loss_spike]\nfactor = 0.5\n", "thresholds.loss_spike.factor"),
        ("[thresholds.loss_spike]\nfactor = -1\n", "thresholds.loss_spike.factor"),
        ("[thresholds.loss_spike]\nfactor = nan\n", "thresholds.loss_spike.factor"),
    ],
)
def test_out_of_range_thresholds_exit_2_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "gradlog.toml").write_text(text)
    (tmp_path / "run.log").write_text(LOG)
    result = gradlog("diagnose", "run.log", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("gradlog: error: gradlog.toml: ") and key in line
    assert "Traceback" not in result.stderr


def test_zero_counts_that_mean_none_stay_allowed(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "gradlog.toml").write_text("[thresholds.nan]\nmax-skipped-steps = 0\n")
    (tmp_path / "run.log").write_text(LOG)
    assert gradlog("diagnose", "run.log", cwd=tmp_path).returncode == 0


def test_a_config_above_the_repository_root_does_not_apply(tmp_path: Path) -> None:
    (tmp_path / "gradlog.toml").write_text('fail-on = "info"\n')  # a shared parent, e.g. /tmp
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    assert find(repo) is None
    (repo / "gradlog.toml").write_text('fail-on = "warning"\n')
    (repo / "sub").mkdir()
    found = find(repo / "sub")
    assert found is not None and found.path == repo / "gradlog.toml"


def test_config_naming_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    (tmp_path / "run.log").write_text(LOG)
    result = gradlog("diagnose", "--config", str(fifo), "run.log", cwd=tmp_path)
    assert result.returncode == 2
    assert "not a regular file" in result.stderr


def test_config_naming_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "run.log").write_text(LOG)
    result = gradlog("diagnose", "--config", str(tmp_path), "run.log", cwd=tmp_path)
    assert result.returncode == 2 and "not a regular file" in result.stderr
