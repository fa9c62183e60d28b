"""A log's events exported as one JSON value, built from how such exports are laid out.

Log services hand a job's output back as a JSON list of events (or a list under a key),
each event an object holding one line of the log, or one piece of what the program
wrote, under a name such as ``message``, ``textPayload`` or ``data`` (maybe nested:
``jsonPayload.message``), often beside a time; some list the newest first. The log is
the events' text, oldest first; the envelope's numbers (ids, times) are no metrics.
"""

from __future__ import annotations

import json

import pytest

from gradlog.engine import analyze
from tests.unit.test_general_reader import read

STEPS = [f"step {i} | loss {2 / i:.4f} | lr 0.001" for i in range(1, 31)]
EXPECTED = [(i, {"loss": round(2 / i, 4), "lr": 0.001}) for i in range(1, 31)]


def _lines(value: object, indent: int | None = 2) -> list[str]:
    return json.dumps(value, indent=indent).split("\n")


def _records(lines: list[str]) -> list[tuple[float, dict[str, float]]]:
    return [(r.step, r.metrics) for r in read("\n".join(lines))]


@pytest.mark.parametrize("indent", [2, None])
def test_events_under_a_key_are_read_as_the_log(indent: int | None) -> None:
    # ``aws logs get-log-events``: {"events": [{"timestamp", "message", ..}], tokens}
    events = [
        {"timestamp": 1714557600000 + 1000 * i, "message": line, "ingestionTime": 17145576}
        for i, line in enumerate(["Loading data from /data/train.npz", *STEPS])
    ]
    lines = _lines({"events": events, "nextForwardToken": "f/3812", "nextBackwardToken": "b/1"})
    assert _records(lines) == EXPECTED


def test_events_listed_newest_first_are_put_back_in_order() -> None:
    # ``gcloud logging read --format=json``: newest first, the text in jsonPayload.message
    events = [
        {
            "insertId": f"{i:014x}",
            "jsonPayload": {"levelname": "INFO", "message": line},
            "resource": {"labels": {"job_id": "4012873629184736256"}, "type": "ml_job"},
            "timestamp": f"2024-05-01T10:{i // 60:02d}:{i % 60:02d}.5Z",
        }
        for i, line in enumerate(STEPS)
    ]
    assert _records(_lines(events[::-1])) == EXPECTED


def test_pieces_of_what_a_program_wrote_are_run_together() -> None:
    # Kaggle's kernel output: a piece per write, lines ending in ``\n``, a progress
    # bar's redraw without one, its streams interleaved; a list laid out a line each.
    pieces = []
    for i, line in enumerate(STEPS, 1):
        if i % 5 == 0:
            pieces.append(
                {"stream_name": "stderr", "time": i, "data": f"\rtrain: {i}/30 [00:0{i % 9}]"}
            )
        pieces.append({"stream_name": "stdout", "time": i + 0.5, "data": line + "\n"})
    lines = ["[" + json.dumps(pieces[0])] + ["," + json.dumps(piece) for piece in pieces[1:]]
    lines[-1] += "]"
    assert _records(lines) == EXPECTED


def test_an_export_is_told_and_its_envelope_gives_no_series() -> None:
    events = [{"timestamp": 1714557600 + i, "pid": 4242, "message": s} for i, s in enumerate(STEPS)]
    report = analyze(_lines({"events": events}))
    assert report.input.records == 30
    assert set(report.input.metrics) == {"loss", "lr"}


def test_a_document_of_metrics_is_still_read_as_one() -> None:
    # trainer_state.json: entries of numbers, no text: its metrics, as before
    history = [{"step": i, "loss": 2 / i, "learning_rate": 0.001} for i in range(1, 6)]
    records = _records(_lines({"log_history": history, "global_step": 5}))
    assert [step for step, _ in records] == [1, 2, 3, 4, 5]
    assert records[-1][1] == {"loss": 0.4, "lr": 0.001}


@pytest.mark.parametrize("ascii_only", [True, False])
def test_each_event_is_at_the_line_of_the_export_that_holds_it(ascii_only: bool) -> None:
    # Its text found in the export as the export spelled it (escaped or not).
    events = [
        {"ts": i, "message": f"step {i} | loss {2 / i:.4f} | note: café"} for i in range(1, 6)
    ]
    lines = json.dumps(events, indent=2, ensure_ascii=ascii_only).split("\n")
    records = read("\n".join(lines))
    assert [r.step for r in records] == [1, 2, 3, 4, 5]
    assert all(f"step {r.step} |" in lines[r.line - 1] for r in records)
