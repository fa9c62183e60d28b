"""The callbacks, each with its real framework: a tiny regression model trained on the
CPU, once on clean data (it must finish) and once with a corrupt sample in its data
(a value of 1e30: the loss overflows, then the weights go NaN), which must be stopped
within one logging interval, with the report naming the step.

The frameworks come with the ``frameworks`` extra (``pip install -e '.[frameworks]'``);
without it these tests skip, saying which framework is missing.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SAMPLES = 256
BATCH = 8
BAD = 101  # the corrupt sample: in batch 12 (from 0), the 13th step
BAD_STEP = BAD // BATCH + 1
EPOCHS = 2
STEPS = EPOCHS * SAMPLES // BATCH


def _data(corrupt: bool) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], dtype="float32"))[:, None]
    if corrupt:
        x[BAD] = 1e30
    return x, y


def _stopped_at(report: Any) -> Any:
    found = [d for d in report.diagnoses if d.id == "nan"]
    assert found, [d.id for d in report.diagnoses]
    return found[0].first_step


# --------------------------------------------------------------------------------------
# Plain PyTorch


def _torch_loop(corrupt: bool, tmp_path: Path) -> tuple[int, Any]:
    torch = pytest.importorskip("torch", reason="the frameworks extra is not installed")
    from gradlog.callbacks.torch import TorchGuard

    torch.manual_seed(0)
    x, y = (torch.from_numpy(a) for a in _data(corrupt))
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    step = 0
    with TorchGuard(model, optimizer, report=tmp_path / "torch.json") as guard:
        for _ in range(EPOCHS):
            for start in range(0, SAMPLES, BATCH):
                step += 1
                loss = torch.nn.functional.mse_loss(
                    model(x[start : start + BATCH]), y[start : start + BATCH]
                )
                optimizer.zero_grad()
                loss.backward()
                if guard.step(step, loss=loss):
                    break
                optimizer.step()
            if guard.stopped:
                break
    assert guard.guard.result is not None
    return step, guard.guard.result


def test_torch_guard_stops_a_loop_that_goes_nan(tmp_path: Path) -> None:
    step, report = _torch_loop(True, tmp_path)
    assert step == BAD_STEP
    assert _stopped_at(report) == BAD_STEP
    written = json.loads((tmp_path / "torch.json").read_text())
    assert written["reports"][0]["diagnoses"][0]["id"] == "nan"


def test_torch_guard_lets_a_healthy_loop_finish(tmp_path: Path) -> None:
    step, report = _torch_loop(False, tmp_path)
    assert step == STEPS
    assert report.worst() is None or report.worst() < 2, [d.id for d in report.diagnoses]


# --------------------------------------------------------------------------------------
# Keras 3 (on its torch backend)


def _keras_fit(corrupt: bool, tmp_path: Path) -> tuple[Any, Any]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch", reason="the frameworks extra is not installed")
    keras = pytest.importorskip("keras", reason="the frameworks extra is not installed")
    from gradlog.callbacks.keras import GradlogCallback

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    callback = GradlogCallback(report=tmp_path / "keras.md")
    x, y = _data(corrupt)
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=EPOCHS,
        shuffle=False,
        validation_data=(x[:32], y[:32]),
        callbacks=[callback],
        verbose=0,
    )
    return history, callback


def test_keras_callback_stops_a_fit_that_goes_nan(tmp_path: Path) -> None:
    history, callback = _keras_fit(True, tmp_path)
    assert callback._batches == BAD_STEP  # stopped at the batch that went NaN
    assert len(history.history["loss"]) == 1  # within the first epoch
    assert _stopped_at(callback.report) == BAD_STEP
    assert "nan" in (tmp_path / "keras.md").read_text()


def test_keras_callback_lets_a_healthy_fit_finish(tmp_path: Path) -> None:
    history, callback = _keras_fit(False, tmp_path)
    assert len(history.history["loss"]) == EPOCHS and callback._batches == STEPS
    assert callback.guard.stopped is None


# --------------------------------------------------------------------------------------
# Lightning


def _lightning_fit(corrupt: bool, tmp_path: Path) -> tuple[Any, Any]:
    torch = pytest.importorskip("torch", reason="the frameworks extra is not installed")
    pl = pytest.importorskip("lightning.pytorch", reason="the frameworks extra is not installed")
    from gradlog.callbacks.lightning import GradlogCallback

    class Regression(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch: Any, index: int) -> Any:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: Any, index: int) -> None:
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.05)

    pl.seed_everything(0, verbose=False)
    x, y = (torch.from_numpy(a) for a in _data(corrupt))
    data = torch.utils.data.TensorDataset(x, y)
    train = torch.utils.data.DataLoader(data, batch_size=BATCH)
    held_out = torch.utils.data.DataLoader(torch.utils.data.Subset(data, range(32)), BATCH)
    callback = GradlogCallback(report=tmp_path / "lightning.html")
    trainer = pl.Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(Regression(), train, held_out)
    return trainer, callback


def test_lightning_callback_stops_a_fit_that_goes_nan(tmp_path: Path) -> None:
    trainer, callback = _lightning_fit(True, tmp_path)
    assert trainer.global_step == BAD_STEP
    assert _stopped_at(callback.report) == BAD_STEP
    assert "nan" in (tmp_path / "lightning.html").read_text()


def test_lightning_callback_lets_a_healthy_fit_finish(tmp_path: Path) -> None:
    trainer, callback = _lightning_fit(False, tmp_path)
    assert trainer.global_step == STEPS and callback.guard.stopped is None
    assert callback.report is not None and callback.report.input.records >= STEPS


# --------------------------------------------------------------------------------------
# HF Trainer


def _hf_train(corrupt: bool, tmp_path: Path, **arguments: Any) -> tuple[Any, Any]:
    torch = pytest.importorskip("torch", reason="the frameworks extra is not installed")
    transformers = pytest.importorskip(
        "transformers", reason="the frameworks extra is not installed"
    )
    pytest.importorskip("accelerate", reason="the frameworks extra is not installed")
    from gradlog.callbacks.hf import GradlogCallback

    class Regression(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def forward(self, x: Any, labels: Any) -> dict[str, Any]:
            return {"loss": torch.nn.functional.mse_loss(self.layer(x), labels)}

    class Samples(torch.utils.data.Dataset):
        def __init__(self, x: Any, y: Any) -> None:
            self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, index: int) -> dict[str, Any]:
            return {"x": self.x[index], "labels": self.y[index]}

    transformers.set_seed(0)
    callback = GradlogCallback(report=tmp_path / "hf.json")
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=BATCH,
        num_train_epochs=EPOCHS,
        learning_rate=0.05,
        optim="sgd",
        lr_scheduler_type="constant",
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        dataloader_drop_last=False,
        **arguments,
    )
    trainer = transformers.Trainer(
        model=Regression(),
        args=args,
        train_dataset=Samples(*_data(corrupt)),
        callbacks=[callback],
    )
    trainer.train()
    return trainer, callback


def test_hf_callback_stops_a_run_that_goes_nan(tmp_path: Path) -> None:
    # With HF's defaults: the loss logged is filtered of NaN and infinities
    # (logging_nan_inf_filter), but the grad norm is not.
    trainer, callback = _hf_train(True, tmp_path, seed=0, data_seed=0)
    stop = _stopped_at(callback.report)
    assert stop is not None and trainer.state.global_step == stop
    assert stop <= STEPS // EPOCHS  # in the epoch that held the corrupt sample
    assert json.loads((tmp_path / "hf.json").read_text())["reports"][0]["diagnoses"]


def test_hf_callback_lets_a_healthy_run_finish(tmp_path: Path) -> None:
    trainer, callback = _hf_train(False, tmp_path, seed=0, data_seed=0)
    assert trainer.state.global_step == STEPS and callback.guard.stopped is None


def test_alerts_go_to_the_frameworks_logger(tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    _lightning_fit(True, tmp_path)
    alerts = [r for r in caplog.records if r.name == "lightning.pytorch.gradlog"]
    assert any(r.levelno == logging.ERROR and " nan at step " in r.getMessage() for r in alerts)
    assert any("stopping training" in r.getMessage() for r in alerts)


# --------------------------------------------------------------------------------------
# The README's examples, each run as a script


def _readme_examples() -> list[Any]:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("### Callbacks") : readme.index("## Use in CI")]
    blocks = section.split("```python\n")[1:]
    return [
        pytest.param(block[: block.index("```\n")], id=f"example-{n}")
        for n, block in enumerate(blocks)
    ]


@pytest.mark.parametrize("code", _readme_examples())
def test_readme_callback_examples_run(tmp_path: Path, code: str) -> None:
    import importlib.util
    import subprocess
    import sys

    for module in ("torch", "keras", "lightning", "transformers", "accelerate"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (the frameworks extra)")
    script = tmp_path / "example.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "gradlog: error nan at step" in done.stderr  # the alert, on the framework's logger
    assert any(tmp_path.glob("*-report.*"))
