"""Stretches read by skeleton and token plan change nothing.

A long stretch of lines whose skeletons (digits made 0, long runs of digits cut) share a
token plan is read without matching any line: numbers are cut out by ``translate`` and
``split`` and parsed a column at a time (``runs.floats``). Line by line, every line through
every step, is the oracle. The logs here are built from what makes that hard: floats
printed by ``repr`` (every length), runs of digits longer than a skeleton keeps,
timestamps before the text, digits in names, integers whose lengths change inside a stretch,
numbers ``float`` cannot read, NaN, events and chatter between the lines."""

from __future__ import annotations

import math
import random
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gradlog.columns import RecordRun
from gradlog.model import Record
from gradlog.parse import reader as reader_module
from gradlog.parse.exact import floats, floats_at, nearest, token_spans
from gradlog.parse.reader import LogReader
from gradlog.parse.runs import LONG_RUN, skeletons
from tests.test_layouts import assert_read_as_line_by_line


def _form(value: str, spec: str) -> str:
    """``value`` printed by ``spec``; as it is when it is no float (``1,000.5``)."""
    try:
        return format(float(value), spec)
    except ValueError:
        return value


def _stretch_log(rng: random.Random) -> list[str]:
    lines: list[str] = []
    step = rng.randrange(1, 99_990)
    for _ in range(14):
        kind = rng.choice(("repr", "fixed", "stamped", "long", "megatron", "named", "two"))
        length = rng.choice((63, 64, 65, 300, 700, 900))
        broken = rng.randrange(length) if rng.random() < 0.7 else -1
        trouble = rng.choice(("nan", "comma", "event", "repeat", "word", "wide", "chatter"))
        scale = 10 ** rng.choice((0, 0, 0, -3, 2))  # repr's lengths, and exponents
        for i in range(length):
            bad = i == broken
            step += 0 if bad and trouble == "repeat" else rng.choice((1, 1, 1, 1, 7, 1000))
            loss = repr(rng.random() * scale)
            if bad and trouble in ("nan", "comma"):
                loss = "nan" if trouble == "nan" else "1,000.5"
            if kind == "repr":
                grad = repr(rng.random())
                lines.append(f"{{'loss': {loss}, 'grad_norm': {grad}, 'epoch': {step / 997!r}}}")
            elif kind == "fixed":
                lines.append(f"step {step} | loss {_form(loss, '.4f')} | lr {rng.random():.2e}")
            elif kind == "stamped":
                stamp = f"2024-05-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:07,{i % 1000:03d}"
                lines.append(f"{stamp} - INFO - step {step} | loss {_form(loss, '.4f')}")
            elif kind == "long":  # a run id with more digits than a skeleton keeps
                run_id = rng.randrange(10 ** (LONG_RUN + 1), 10 ** (LONG_RUN + 6))
                lines.append(f"run {run_id} iter {step} loss={loss}")
            elif kind == "two":  # two long runs: 6 + 7 digits or 7 + 6, one skeleton
                first = rng.choice((LONG_RUN + 1, LONG_RUN + 2))
                run_id = rng.randrange(10 ** (first - 1), 10**first)
                job = rng.randrange(
                    10 ** (2 * LONG_RUN + 2 - first), 10 ** (2 * LONG_RUN + 3 - first)
                )
                lines.append(f"run {run_id} job {job} step {step} loss {_form(loss, '.4f')}")
            elif kind == "named":  # a digit in a name: every line its own shape
                lines.append(f"step {step} | head{i % 4}_loss {_form(loss, '.4f')}")
            else:
                lines.append(
                    f" iteration {step:>8d}/ 1000000 | lm loss: {_form(loss, '.6E')} |"
                    f" grad norm: {rng.random():.3f} |"
                )
            if bad and trouble == "event":
                lines.append(
                    "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 1024"
                )
            elif bad and trouble == "word":
                lines.append(lines[-1].replace("loss", "lo5s", 1))
            elif bad and trouble == "wide":
                lines.append(lines[-1].replace(".", "..", 1))
            if trouble == "chatter" and rng.random() < 0.2:  # lines that say nothing
                lines.append(_chatter(rng, step))
    return lines


def _chatter(rng: random.Random, step: int) -> str:
    """A line that yields no record, with a number or not, or blank."""
    return rng.choice(
        (
            "",
            f"Saving model checkpoint to out/checkpoint-{step}",
            "Tokenizer has no pad token, using eos",
            f"{step % 10_000 / 7:.1f}% of the data seen",
        )
    )


@pytest.mark.parametrize("seed", range(8))
def test_stretches_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(
        tmp_path / "stretches.log", _stretch_log(random.Random(seed)), (97, 500, 1500, 4096)
    )


def test_a_stretch_is_read_without_matching_its_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once learned, a stretch of repr-printed dicts is read with no match per line."""
    rng = random.Random(3)
    lines = [
        f"{{'loss': {rng.random()!r}, 'grad_norm': {rng.random() * 9!r}, 'epoch': {i / 97!r}}}"
        for i in range(3000)
    ]
    reader = LogReader()
    reader.feed_lines(1, lines[:1000])  # learns the layouts
    matched = 0
    one = reader_module.LogReader._compiled_line

    def counted(self: LogReader, *args: object) -> object:
        nonlocal matched
        matched += 1
        return one(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(reader_module.LogReader, "_compiled_line", counted)
    parts = reader.read_lines(1001, lines[1000:])  # fewer than a first block's head
    assert sum(len(part) for part in parts if isinstance(part, RecordRun)) > 1900
    assert matched < 50


def test_lines_laid_out_alike_are_read_as_a_table_of_bytes() -> None:
    """Fixed-format lines of one length are cut into columns by their bytes; lines whose
    long runs of digits fall elsewhere (the same skeleton) are not."""
    from gradlog.parse.runs import Lines

    alike = [f"step {100_000 + i} | loss {i / 1000:.4f}" for i in range(300)]
    shifted = [f"run {10**6 + i} job {10**5 + i} loss 0.5000" for i in range(150)] + [
        f"run {10**5 + i} job {10**6 + i} loss 0.5000" for i in range(150)
    ]
    for lines, expected in ((alike, True), (shifted, False)):
        data, keys, masked, _ = skeletons(lines) or (b"", [], b"", [])
        assert len(set(keys)) == 1
        rows = Lines(range(len(lines)), lines, data, keys, masked).rows(0, len(lines))
        assert (rows is not None) == expected
    data, keys, masked, _ = skeletons(alike) or (b"", [], b"", [])
    rows = Lines(range(300), alike, data, keys, masked).rows(10, 20)
    assert rows is not None and rows[0].tobytes() == alike[10].encode()


def test_skeletons_cut_long_runs_and_fractions_only() -> None:
    lines = [
        "step 1234567 | loss 0.1234567890123 | lr 5.0e-05",
        "step 9876543 | loss 0.98 | lr 4.99985e-05",
        "a\x00b",
        "12:30:45 | 1,000 | 1,5 | 2024-05-01 | 10.5.1",
    ]
    data, keys, _, _ = skeletons(lines) or (b"", [], b"", [])
    assert data == "\n".join(lines).encode()
    assert keys[0] == keys[1] == b"step " + b"0" * LONG_RUN + b" | loss 0.0 | lr 0.0e-00"
    assert keys[2] == b"a\x00b"
    # Digits that rules count (times, dates, thousands groups) keep their count.
    assert keys[3] == b"00:00:00 | 0,000 | 0,0 | 0000-00-00 | 00.0.0"
    assert skeletons(["one\ntwo"]) is None  # not a physical line


def _matched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of the lines read one at a time (matched, or by the general path), from
    now on."""
    matched = [0]
    each = reader_module.LogReader._each

    def counted(
        self: LogReader,
        numbers: object,
        lines: object,
        start: int,
        end: int,
        *args: object,
        **named: object,
    ) -> object:
        matched[0] += end - start
        return each(self, numbers, lines, start, end, *args, **named)  # type: ignore[arg-type]

    monkeypatch.setattr(reader_module.LogReader, "_each", counted)
    return matched


def _fed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of the lines read the general way (``feed``), from now on."""
    fed = [0]
    feed = reader_module.LogReader.feed

    def counted(self: LogReader, line_no: int, raw: str) -> list[Any]:
        fed[0] += 1
        return feed(self, line_no, raw)

    monkeypatch.setattr(reader_module.LogReader, "feed", counted)
    return fed


def _read_alone(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of the lines of runs, stretches and weaves read by themselves (through
    the record protocol, not in columns), from now on."""
    alone = [0]
    one = reader_module.LogReader._one

    def counted(self: LogReader, run: object, index: int) -> object:
        alone[0] += 1
        return one(self, run, index)  # type: ignore[arg-type]

    monkeypatch.setattr(reader_module.LogReader, "_one", counted)
    return alone


def _hf_lines(count: int, first_epoch: float = 0.0) -> list[str]:
    """HF Trainer's dicts: repr floats of every length, and an epoch that gains a digit
    (9.99 -> 10.0) when ``first_epoch`` is near 10."""
    rng = random.Random(5)
    return [
        f"{{'loss': {round(2 + rng.random(), rng.choice((2, 3, 4)))}, "
        f"'grad_norm': {rng.random() * 3!r}, 'learning_rate': {5e-5 * (1 - i / 1e6)!r}, "
        f"'epoch': {round(first_epoch + i / 1000, 2)}}}"
        for i in range(count)
    ]


def test_a_logs_first_block_is_learned_from_its_head_then_stretched(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Nothing is compiled before a log's first block: its first lines are read one by
    one, which learns their layouts, and the rest of the block in stretches."""
    lines = _hf_lines(16_000)
    matched = _matched(monkeypatch)
    LogReader().read_lines(1, lines)
    assert matched[0] < 2_500
    monkeypatch.undo()
    assert_read_as_line_by_line(tmp_path / "hf.log", lines, (16_384,))


def test_a_layout_new_in_the_middle_of_a_block_is_learned_and_stretched(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An epoch that gains a digit half way through a block makes a new layout; once a
    few of its lines are read one by one, the rest of the block is read in stretches."""
    lines = _hf_lines(16_000, first_epoch=2.0)
    reader = LogReader()
    reader.read_lines(1, lines[:7_900])  # learns epochs 2.0 to 9.9
    matched = _matched(monkeypatch)
    reader.read_lines(7_901, lines[7_900:])  # 10.0 from its 101st line: one more digit
    assert matched[0] < 2_500
    monkeypatch.undo()
    assert_read_as_line_by_line(tmp_path / "hf.log", lines, (16_384, 4_096))


@pytest.mark.parametrize("seed", range(20))
def test_floats_is_float(seed: int) -> None:
    """Columns printed alike are read from their digits, exactly as float() reads them;
    any other column by float itself."""
    rng = random.Random(seed)
    for _ in range(200):
        form = rng.choice(
            ("{:.4f}", "{:.6f}", "{:.3e}", "{:.2E}", "{:+.3f}", "{:.0f}", "{:.15f}", "{!r}")
        )
        scale = 10.0 ** rng.randint(-30, 30)
        values = [rng.uniform(-1, 1) * scale for _ in range(rng.choice((1, 40, 130, 300)))]
        tokens = [form.format(v).encode() for v in values]
        want = np.array([float(t) for t in tokens])
        assert np.array_equal(floats(tokens).view(np.int64), want.view(np.int64)), tokens


def test_floats_does_not_align_integers_of_other_lengths() -> None:
    # Three integers of 6, 7 and 5 digits join to 18 bytes, three rows of 6.
    tokens = [b"123456", b"1234567", b"12345"] * 50
    assert floats(tokens).tolist() == [123456.0, 1234567.0, 12345.0] * 50


@pytest.mark.parametrize("bad", [b"1.2.3", b"e5", b"-", b"1e", b"."])
def test_floats_refuses_what_float_refuses(bad: bytes) -> None:
    with pytest.raises(ValueError):
        floats([bad] * 200)


def _bits(values: object) -> list[int]:
    return np.asarray(values, np.float64).view(np.uint64).tolist()


@pytest.mark.parametrize("seed", range(4))
def test_nearest_rounds_as_float_does_or_leaves_it_to_float(seed: int) -> None:
    """Eisel-Lemire on whole columns: what it decides is float()'s double, bit for bit
    (10**q of either sign, significands of every length up to 19 digits, near ties)."""
    rng = random.Random(seed)
    count = 20_000
    w = [rng.getrandbits(rng.randint(1, 63)) for _ in range(count)]
    w[:200] = [2**53 + 1, 2**54 - 1, 10**19 - 1, 9007199254740993, 1, 5, 17, 2**63] * 25
    q = [rng.randint(-350, 320) for _ in range(count)]
    q[:200] = [rng.randint(-25, 25) for _ in range(200)]
    # The hard cases: 19 digits just below and just above the midpoint of two doubles.
    for _ in range(2_000):
        low = struct.unpack("d", struct.pack("Q", rng.getrandbits(62)))[0]
        middle = (Decimal(low) + Decimal(math.nextafter(low, math.inf))) / 2
        digits, exponent = middle.as_tuple().digits, middle.as_tuple().exponent
        assert isinstance(exponent, int)
        whole = int("".join(map(str, digits)))
        cut = len(digits) - 19
        for nudge in (0, 1):
            w.append(whole // 10**cut + nudge if cut > 0 else whole)
            q.append(exponent + max(cut, 0))
    count = len(w)
    values, decided = nearest(np.array(w, np.uint64), np.array(q, np.int64))
    want = [float(f"{a}e{b}") for a, b in zip(w, q, strict=True)]  # inf past the largest
    got, expected = _bits(values), _bits(want)
    assert all(got[i] == expected[i] for i in range(count) if decided[i])
    assert decided.mean() > 0.85  # only the odd cases go to float()


@pytest.mark.parametrize("seed", range(6))
def test_floats_of_many_layouts_is_float(seed: int) -> None:
    """Columns whose tokens differ in length (repr floats, rounded losses, a learning
    rate decaying in ``e-05``, both signs, leading zeros past 19 digits) are read a
    layout at a time, exactly as float() reads them."""
    rng = random.Random(seed)
    forms = (
        lambda: repr(rng.random() * 3),
        lambda: repr(rng.uniform(-1, 1) * 10.0 ** rng.randint(-40, 40)),
        lambda: repr(round(rng.random() * 3, rng.choice((1, 2, 3, 4)))),
        lambda: repr(5e-5 * (1 - rng.random())),
        lambda: f"{rng.random() * 1e-4:.22f}",
        lambda: repr(struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]),
    )
    for _ in range(40):
        mix = rng.sample(forms, rng.randint(1, 3))
        tokens = [rng.choice(mix)().encode() for _ in range(rng.choice((130, 500, 3000)))]
        try:
            want = [float(token) for token in tokens]
        except ValueError:  # nan or inf from random bits: not a token of a log
            continue
        assert _bits(floats(tokens)) == _bits(want), tokens[:5]


@pytest.mark.parametrize("bad", [b"1.2e", b"0.14x", b"0.1428571428571428\xff", b"--1", b"1.2.3"])
def test_floats_of_many_layouts_refuses_what_float_refuses(bad: bytes) -> None:
    tokens = [repr(i / 7).encode() for i in range(300)]
    tokens[150] = bad
    with pytest.raises(ValueError):
        floats(tokens)


def _skeleton_by_rule(line: str) -> bytes:
    """The skeleton rule spelled out a character at a time: digits become 0; of a run
    of digits, the first LONG_RUN stay, and of a run right after a point, the first."""
    out, run, fraction, before = [], 0, False, ""
    for char in line.encode().decode("latin-1"):
        if char.isdigit() and char.isascii():
            if run == 0:
                fraction = before == "."
            run += 1
            if run <= (1 if fraction else LONG_RUN):
                out.append("0")
        else:
            run = 0
            out.append(char)
        before = char
    return "".join(out).encode("latin-1")


@pytest.mark.parametrize("seed", range(3))
def test_skeletons_follow_their_rule(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "0123456789" * 3 + "....,:-+e |xé"
    for _ in range(300):
        lines = [
            "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
            for _ in range(rng.randint(1, 40))
        ]
        found = skeletons(lines, known={})
        assert found is not None
        assert found[1] == [_skeleton_by_rule(line) for line in lines]


@pytest.mark.parametrize("seed", range(3))
def test_tokens_cut_from_the_text_read_as_split_and_float(seed: int) -> None:
    """A stretch's numbers are cut from its translated text by their spans, not split
    into one bytes object each: the same tokens, the same values, the same refusals."""
    rng = random.Random(seed)
    for _ in range(30):
        count = rng.choice((5, 130, 600))
        tokens = [
            rng.choice((repr(rng.random()), f"{rng.random():.3f}", str(rng.randint(0, 10**6))))
            for _ in range(count)
        ]
        text = "".join(f"{' ' * rng.randint(1, 3)}{token}" for token in tokens).encode()
        starts, ends = token_spans(text)
        assert [text[a:b] for a, b in zip(starts, ends, strict=True)] == text.split()
        padded = np.frombuffer(text + bytes(32), np.uint8)
        want = [float(token) for token in tokens]
        assert _bits(floats_at(padded, starts, ends)) == _bits(want)
    text = b" 1.5 2.5e 3.5" * 60
    starts, ends = token_spans(text)
    with pytest.raises(ValueError):
        floats_at(np.frombuffer(text + bytes(32), np.uint8), starts, ends)


def test_skeletons_keep_few_and_short_layouts() -> None:
    """The cache of skeletons by layout holds no long layout and never more than it may:
    a log of ever new or very long lines cannot grow it."""
    known: dict[bytes, bytes] = {}
    lines = [f"id{'x' * (i % 50)} loss 0.5" for i in range(200)] + ["y" * 5000 + " 1.5"]
    found = skeletons(lines, known=known, longest=100, kept=30)
    assert found is not None and len(found[1]) == len(lines)
    assert found[1][-1] == b"y" * 5000 + b" 0.0"
    assert len(known) == 30 and all(len(layout) <= 100 for layout in known)
    again = skeletons(lines, known=known, longest=100, kept=30)
    assert again is not None and again[1] == found[1]


def _interleaved_log(rng: random.Random, counters: int) -> list[str]:
    """Lines of several kinds in turn, in runs of 10-40 (the mixed logs of real runs:
    step lines, the same behind a logging prefix, HF dicts, a validation line, chatter),
    from ``counters`` step counters: with more than one, steps go back between runs, so
    runs cannot become columns and their lines are read one at a time."""
    steps = [1] * counters
    lines: list[str] = []
    for run in range(rng.randrange(60, 90)):
        kind = rng.choice(("step", "stamped", "dict", "val", "chatter"))
        counter = rng.randrange(counters)
        for i in range(rng.randrange(10, 41)):
            steps[counter] += 0 if rng.random() < 0.01 else 1  # a repeated step, rarely
            step, loss = steps[counter], 2 / (1 + steps[counter] / 500) + rng.random() / 10
            if rng.random() < 0.003:
                loss = rng.choice((math.nan, math.inf))
            text = f"step {step} | loss {loss:.4f} | grad_norm {rng.random() * 3!r} | lr 3e-04"
            if kind == "stamped":
                lines.append(f"2024-05-01 10:{run % 60:02d}:{i % 60:02d},123 - INFO - {text}")
            elif kind == "dict":
                lines.append(
                    f"{{'loss': {loss!r}, 'grad_norm': {rng.random() * 3!r}, "
                    f"'learning_rate': {5e-5 * (1 - step / 1e5)!r}, 'epoch': {step / 977:.2f}}}"
                )
            elif kind == "val":
                lines.append(f"step {step} | val_loss {loss:.4f} | val_acc {rng.random():.3f}")
            elif kind == "chatter":
                lines.append(rng.choice(("Saving checkpoint", f"{i} of 40 shards", "")))
            else:
                lines.append(text if rng.random() > 0.005 else text.replace("3e-04", "1,000.5"))
    return lines


@pytest.mark.parametrize(("seed", "counters"), [(seed, 1 + seed % 3) for seed in range(9)])
def test_short_stretches_of_several_kinds_read_as_line_by_line(
    tmp_path: Path, seed: int, counters: int
) -> None:
    assert_read_as_line_by_line(
        tmp_path / "mixed.log",
        _interleaved_log(random.Random(seed), counters),
        (97, 500, 4096),
    )


def test_the_lines_of_a_plan_are_read_in_one_pass_per_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a block of many short stretches of two kinds in turn, each number column of a
    kind is read once for the whole block, not once per stretch, and almost no line is
    matched on its own."""
    from gradlog.parse import runs

    rng = random.Random(11)
    lines, step = [], 1
    for run in range(200):
        for _ in range(rng.randrange(20, 31)):
            step += 1
            loss = 2 / (1 + step / 500)
            if run % 2:
                lines.append(f"step {step} | val_loss {loss:.4f} | val_acc {rng.random():.3f}")
            else:
                lines.append(f"step {step} | loss {loss:.4f} | grad_norm {rng.random() * 3!r}")
    reader = LogReader()
    reader.read_lines(1, lines[:2000])  # learns the layouts
    columns = [0]
    read = runs.floats_at

    def counted(*args: np.ndarray) -> np.ndarray:
        columns[0] += 1
        return read(*args)

    monkeypatch.setattr(runs, "floats_at", counted)
    matched = _matched(monkeypatch)
    rest = lines[2000:]
    parts = reader.read_lines(2001, rest)
    assert sum(len(part) for part in parts if isinstance(part, RecordRun)) > len(rest) * 0.9
    assert columns[0] <= 2 * 3  # two plans of three numbers (the step, two metrics)
    assert matched[0] < 100


def _blocks_log(rng: random.Random) -> list[str]:
    """Runs of dicts with no step (HF's, with an epoch or none) after a header that opens
    a block (``Evaluating at step 40``, ``Epoch 3/50``), which takes each of them in turn,
    between step lines and runs of dicts that make records of their own. A run's first
    epoch is nan now and then (no epoch: a later line dates the block), and a run's
    epochs are one or change within it."""
    lines: list[str] = []
    step = 1
    for _ in range(rng.randrange(60, 90)):
        kind = rng.choice(("header", "header", "dict", "step", "chatter"))
        if kind == "header":
            lines.append(rng.choice((f"Evaluating at step {step}", f"Epoch {step // 100 + 1}/50")))
            kind = rng.choice(("dict", "dict", "undated"))
        epoch = step / 977
        for i in range(rng.randrange(1, 41)):
            step += 1
            loss = repr(2 / (1 + step / 500) + rng.random() / 10)
            if kind == "dict":
                epoch += 0.01 if rng.random() < 0.3 else 0.0
                shown = "nan" if i == 0 and rng.random() < 0.2 else f"{epoch:.2f}"
                lines.append(
                    f"{{'eval_loss': {loss}, 'eval_acc': {rng.random()!r}, 'epoch': {shown}}}"
                )
            elif kind == "undated":
                lines.append(f"{{'eval_loss': {loss}, 'eval_runtime': {rng.random() * 9:.4f}}}")
            elif kind == "step":
                lines.append(f"step {step} | loss {loss} | grad_norm {rng.random() * 3:.3f}")
            else:
                lines.append(rng.choice(("Saving checkpoint", f"{i} of 40 shards", "")))
    return lines


@pytest.mark.parametrize("seed", range(8))
def test_lines_into_a_headers_block_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(
        tmp_path / "blocks.log", _blocks_log(random.Random(seed)), (97, 500, 4096)
    )


def _header_blocks(monkeypatch: pytest.MonkeyPatch, dated: bool) -> tuple[int, int, list[Record]]:
    """300 blocks of ``Evaluating at step N`` and 30 eval dicts (each at its own epoch,
    when ``dated``), read after their layouts were learned: the lines read alone, the
    blocks read, and the records."""
    rng = random.Random(3)
    lines = []
    for run in range(300):
        lines.append(f"Evaluating at step {run * 40}")
        for i in range(30):
            epoch = f", 'epoch': {run / 10 + i / 1000:.3f}" if dated else ""
            lines.append(
                f"{{'eval_loss': {rng.random():.4f}, 'eval_acc': {rng.random():.4f}{epoch}}}"
            )
    reader = LogReader()
    reader.read_lines(1, lines[:2000])  # learns the layouts
    read = _read_alone(monkeypatch)
    parts = reader.read_lines(2001, lines[2000:])
    return read[0], len(lines[2000:]) // 31, [record for part in parts for record in part]


def test_a_run_of_lines_into_a_headers_block_reads_its_first_and_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dicts with no epoch that go into the block a header opened replace each other's
    values: of a run of them, only the last is read, beside the header itself."""
    read, runs, records = _header_blocks(monkeypatch, dated=False)
    assert read <= 3 * runs + 4
    assert len(records) in (runs, runs + 1)  # a record per header's block


def test_dicts_at_other_epochs_than_a_headers_block_are_read_in_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dicts after a header, each at its own epoch: the first goes into the header's
    block and dates it, the second opens the next record, and the rest are a run read
    in columns, a record each."""
    read, runs, records = _header_blocks(monkeypatch, dated=True)
    assert read <= 5 * runs + 4
    assert abs(len(records) - 30 * runs) <= 30


def _woven_log(rng: random.Random) -> list[str]:
    """Runs of 1-12 lines of several kinds in turn, from one step counter: step lines
    (some behind a logging prefix), a validation line at the step just printed (it joins
    that step's record), dicts with no step (numbered on; some with a nan epoch, some
    repeating the line before), a header that opens a block the next dicts go into,
    Keras's bars (under their epoch's header or not), and now and then a blank line or
    chatter that ends a weave."""
    lines: list[str] = []
    step = 1
    kinds = ("step", "stamped", "val", "dict", "eval", "header", "bar", "gap")
    for _ in range(rng.randrange(300, 450)):
        kind = rng.choices(kinds, (8, 3, 3, 4, 2, 2, 2, 0.5))[0]
        for i in range(rng.randrange(1, 13)):
            loss = 2 / (1 + step / 500) + rng.random() / 10
            if rng.random() < 0.004:
                loss = rng.choice((math.nan, math.inf))
            if kind in ("step", "stamped"):
                step += 0 if rng.random() < 0.02 else 1
                text = f"step {step} | loss {loss:.4f} | grad_norm {rng.random() * 3:.3f}"
                if kind == "stamped":
                    text = f"2024-05-01 10:{i % 60:02d}:07,123 - INFO - {text}"
                lines.append(text)
            elif kind == "val":
                lines.append(f"step {step} | val_loss {loss:.4f} | val_acc {rng.random():.3f}")
                break
            elif kind in ("dict", "header"):
                if kind == "header" and i == 0:
                    lines.append(f"Evaluating at step {step}")
                step += 1
                unknown = 0.3 if kind == "header" and i == 0 else 0.03  # (a block not dated)
                epoch = "nan" if rng.random() < unknown else f"{step / 977:.2f}"
                text = f"{{'loss': {loss:.4f}, 'grad_norm': {rng.random():.4f}, 'epoch': {epoch}}}"
                lines += [text] * (2 if rng.random() < 0.03 else 1)
            elif kind == "eval":
                lines.append(f"{{'eval_loss': {loss:.4f}, 'eval_runtime': {rng.random():.4f}}}")
            elif kind == "bar":  # Keras's bar, under its epoch's header or not
                if i == 0 and rng.random() < 0.5:
                    lines.append(f"Epoch {step // 100 + 1}/50")
                batch = rng.randrange(1, 100)
                lines.append(
                    f" {batch:2d}/99 [{'=' * (batch // 10)}>{'.' * (9 - batch // 10)}] - "
                    f"ETA: 3s - loss: {loss:.4f} - accuracy: {rng.random():.4f}"
                )
            else:
                lines.append(rng.choice(("", "Saving checkpoint")))
                break
    return lines


@pytest.mark.parametrize("seed", range(8))
def test_weaves_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(
        tmp_path / "woven.log", _woven_log(random.Random(seed)), (97, 500, 4096)
    )


def test_dicts_into_a_headers_block_in_a_weave_read_as_line_by_line(tmp_path: Path) -> None:
    """In a weave, dicts after a header go into its block: the first with an epoch
    dates it (here often not the first: its epoch is nan or inf), the last leaves its
    values."""
    rng = random.Random(6)
    lines, step = [], 10_000
    for _ in range(300):
        step += 1  # (a header at the last step line's step would join its record)
        lines.append(f"Evaluating at step {step}")
        for i in range(rng.randrange(1, 8)):
            epoch = f"{step / 50 + i / 100:.2f}"
            if i == 0:  # an epoch that is none: nan (another layout), or one float() reads
                epoch = rng.choice(("nan", "1e999", epoch))  # as inf (the same plan)
            lines.append(
                f"{{'loss': {rng.random():.4f}, 'acc': {rng.random():.4f}, 'epoch': {epoch}}}"
            )
        for _ in range(rng.randrange(20, 40)):
            step += 1
            lines.append(f"step {step} | loss {rng.random():.4f} | grad_norm {rng.random():.3f}")
    assert_read_as_line_by_line(tmp_path / "blocks.log", lines, (500, 4096))


def _chatty_log(rng: random.Random) -> list[str]:
    """Step lines and dicts in short runs, with chatter between them: a few lines at the
    start that read as nothing (so the examples of unread lines fill up), then lines of
    layouts that yield nothing, with numbers and without."""
    lines = [f"note {word} {i}" for i, word in enumerate("abcdefghij")]
    lines += [f"warming up {word}" for word in "abcdef"]
    step = 10_000
    for _ in range(rng.randrange(300, 400)):
        kind = rng.choice(("step", "dict", "chatter"))
        for _ in range(rng.randrange(1, 15)):
            step += 1
            if kind == "step":
                lines.append(
                    f"step {step} | loss {rng.random():.4f} | grad_norm {rng.random():.3f}"
                )
            elif kind == "dict":
                lines.append(f"{{'loss': {rng.random():.4f}, 'grad_norm': {rng.random():.4f}}}")
            else:
                lines.append(_chatter(rng, step))
    return lines


@pytest.mark.parametrize("seed", range(4))
def test_chatter_between_records_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(
        tmp_path / "chatty.log", _chatty_log(random.Random(seed)), (97, 500, 4096)
    )


def test_lines_known_to_yield_nothing_are_only_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Once a layout is known to yield nothing (and the examples of such lines are all
    kept), a line of it is counted without being read: no line goes the general way."""
    lines = _chatty_log(random.Random(9))
    reader = LogReader()
    reader.read_lines(1, lines[:1500])  # learns the layouts, and the quiet ones
    fed = _fed(monkeypatch)
    before = reader.unread_numeric
    reader.read_lines(1501, lines[1500:])
    assert fed[0] == 0
    assert reader.unread_numeric > before


@pytest.mark.parametrize("dialect", ["generic", "hf_trainer"])
def test_header_lines_are_compiled_too(monkeypatch: pytest.MonkeyPatch, dialect: str) -> None:
    """A line that only names a step (``Evaluating at step 40``, behind a logging
    prefix or not) is read by its compiled layout once learned, under a framework's
    dialect too: no line goes the general way, and the records are line by line's."""
    rng = random.Random(1)
    lines, step = [], 10_000
    for _ in range(400):
        for _ in range(rng.randrange(1, 6)):
            step += 1
            if dialect == "generic":
                lines.append(f"step {step} | loss {rng.random():.4f}")
            else:
                lines.append(f"{{'loss': {rng.random():.4f}, 'epoch': {step / 1000:.2f}}}")
        step += 1
        lines.append(
            rng.choice(
                (
                    f"Evaluating at step {step}",
                    f"I0318 09:41:22.517338 140235 train.py:705] Evaluating at step {step}",
                )
            )
        )
    reader = LogReader()
    expected = LogReader()
    expected.layouts = False
    want = [r for n, line in enumerate(lines, 1) for r in expected.feed(n, line)]
    got = reader.feed_lines(1, lines[:1500])
    fed = _fed(monkeypatch)
    got += reader.feed_lines(1501, lines[1500:])
    assert fed[0] == 0
    assert got == want


def test_short_runs_of_several_plans_are_read_into_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Runs of 1-8 step lines and dicts in turn, each line a record: a weave. Its lines
    come from one table per plan and block; only the first and last of each weave are
    read by themselves, and no line is matched."""
    rng = random.Random(2)
    lines, step, kind = [], 10_000, True  # (steps of five digits: one layout)
    while len(lines) < 12_000:
        for _ in range(rng.randrange(1, 9)):
            step += 1
            loss = 2 / (1 + step / 500) + rng.random() / 10
            if kind:
                lines.append(f"step {step} | loss {loss:.4f} | grad_norm {rng.random():.3f}")
            else:
                lines.append(f"{{'loss': {loss:.4f}, 'grad_norm': {rng.random():.4f}}}")
        kind = not kind
    reader = LogReader()
    reader.read_lines(1, lines[:2000])  # learns the layouts
    alone = _read_alone(monkeypatch)
    matched = _matched(monkeypatch)
    rest = lines[2000:]
    parts = reader.read_lines(2001, rest)
    assert sum(len(part) for part in parts if isinstance(part, RecordRun)) > len(rest) - 10
    assert alone[0] <= 4
    assert matched[0] == 0


def test_validation_lines_that_join_the_step_before_stay_in_the_weave(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Runs of step lines, each ending in a validation line at the same step, which joins
    that step's record (its names alone never make a record): no line is matched, the
    lines around each join go into columns, and the records are line by line's."""
    rng = random.Random(4)
    lines, step = [], 10_000
    while len(lines) < 12_000:
        for _ in range(rng.randrange(5, 30)):
            step += 1
            lines.append(f"step {step} | loss {rng.random():.4f} | grad_norm {rng.random():.3f}")
        lines.append(f"step {step} | val_loss {rng.random():.4f} | val_acc {rng.random():.4f}")
    reader = LogReader()
    reader.read_lines(1, lines[:2000])  # learns the layouts
    matched = _matched(monkeypatch)
    rest = lines[2000:]
    parts = reader.read_lines(2001, rest)
    in_columns = sum(len(part) for part in parts if isinstance(part, RecordRun))
    records = sum(len(part) for part in parts)
    assert matched[0] == 0
    assert in_columns > 0.8 * records
    monkeypatch.undo()
    assert_read_as_line_by_line(tmp_path / "val.log", lines, (97, 4096))


@pytest.mark.parametrize("seed", range(10))
def test_picked_numbers_read_as_their_tokens(seed: int) -> None:
    """A line's numbers taken from a table of picked values mean what its tokens do."""
    from gradlog.parse.compiled import Roles, read_picked, read_roles

    rng = random.Random(seed)
    tokens = tuple(f"{rng.random() * 100:.3f}" for _ in range(8))
    places = rng.sample(range(8), 7)
    names = ("loss", "grad_norm", "lr", "acc")[: rng.randrange(1, 5)]
    roles = Roles(
        step=places[0] if rng.random() < 0.7 else None,
        epoch=places[1] if rng.random() < 0.5 else None,
        metrics=tuple(zip(names, places[3:], strict=False)),
        total=places[2] if rng.random() < 0.5 else None,
        first=rng.choice((0, 1)),
    )
    values = [float(tokens[index]) for index in roles.picked()]
    assert read_picked(roles, values) == read_roles(roles, tokens)


@pytest.mark.parametrize("seed", range(8))
def test_batches_counted_many_at_once_as_one_by_one(seed: int) -> None:
    """``count_many`` leaves the parser's tally of batches per epoch as ``count_batches``
    on each line would: one count of batches, several, a NaN among them, a full tally."""
    from gradlog.parse.line import LineParser

    rng = random.Random(seed)
    one, many = LineParser(), LineParser()
    for _ in range(rng.randrange(1, 40)):
        count = rng.randrange(1, 50)
        kinds = rng.choice(([1000.0], [1000.0, 500.0], [float(k) for k in range(30)]))
        totals = [rng.choice(kinds) for _ in range(count)]
        if rng.random() < 0.1:
            totals[rng.randrange(count)] = math.nan
        indices = [float(rng.randrange(0, 1000)) for _ in range(count)]
        first = rng.choice((0, 1))
        for index, total in zip(indices, totals, strict=True):
            one.count_batches((index, total, first))
        many.count_many(np.array(indices), np.array(totals), first)
    # (by repr: a NaN count of batches is a key of its own each time, and NaN != NaN)
    assert repr(list(many.batches.items())) == repr(list(one.batches.items()))
    assert many.first_batch == one.first_batch


def _dialects_log(rng: random.Random, chatter: bool = True, runs: int = 400) -> list[str]:
    """Runs of 1-10 lines of kinds that show different frameworks, in turn, from one step
    counter: HF Trainer's dicts, Keras's bars (now and then under their epoch's header),
    torchtitan's step lines, and plain step lines (some behind a logging prefix) that
    show none; and chatter. Each line that shows a framework turns the log's dialect to
    it, so the plain lines are read under one dialect, then another."""
    lines: list[str] = []
    step = 10_000
    kinds = ("hf", "bar", "titan", "step", "stamped", "chatter")
    for _ in range(rng.randrange(runs, runs + 100)):
        kind = rng.choices(kinds, (3, 3, 2, 4, 2, 1 if chatter else 0))[0]
        for i in range(rng.randrange(1, 11)):
            step += 1
            loss = 2 / (1 + step / 5000) + rng.random() / 10
            if rng.random() < 0.003:
                loss = math.nan
            if kind == "hf":
                lines.append(
                    f"{{'loss': {loss:.4f}, 'grad_norm': {rng.random() * 3!r}, "
                    f"'learning_rate': 5e-05, 'epoch': {step / 977:.2f}}}"
                )
            elif kind == "bar":
                if i == 0 and rng.random() < 0.2:
                    lines.append(f"Epoch {step // 1000}/50")
                batch = rng.randrange(10, 99)
                lines.append(
                    f" {batch}/99 [{'=' * (batch // 10)}>{'.' * (9 - batch // 10)}] - "
                    f"ETA: 3s - loss: {loss:.4f} - accuracy: {rng.random():.4f}"
                )
            elif kind == "titan":
                lines.append(f"step: {step}  loss: {loss:7.4f}  memory: 12.34GiB(31.2%)")
            elif kind in ("step", "stamped"):
                text = f"step {step} | loss {loss:.4f} | grad_norm {rng.random():.3f}"
                if kind == "stamped":
                    text = f"2024-05-01 10:{i % 60:02d}:07,123 - INFO - {text}"
                lines.append(text)
            else:
                lines.append(_chatter(rng, step))
    return lines


@pytest.mark.parametrize("seed", range(6))
def test_lines_of_several_dialects_in_turn_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(
        tmp_path / "dialects.log", _dialects_log(random.Random(seed)), (97, 500, 4096)
    )


def test_a_layout_that_reads_alike_under_several_dialects_is_learned_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plain step line reads the same whichever framework's line came before it: once
    each dialect the log turns to has met its layout, it stays compiled under all of
    them, and so do layouts that yield nothing. Then only a layout not met yet goes the
    general way, and lines of several dialects in turn are woven into columns."""
    lines = _dialects_log(random.Random(3), runs=2000)
    reader = LogReader()
    reader.read_lines(1, lines[:2500])  # learns the layouts under each dialect
    shapes = [entry[2] for entry in reader._compiled.values() if entry is not None]
    plain = [shape for shape in shapes if shape.plan_dialect is None and shape.run == "step"]
    assert plain and all({"hf_trainer", "keras"} <= shape.readers for shape in plain)
    fed = _fed(monkeypatch)
    rest = lines[2500:]
    reader.read_lines(2501, rest)
    # (Only lines of layouts not met yet: a loss of nan, a number with more digits.)
    assert fed[0] < len(rest) / 100
    monkeypatch.undo()
    quiet = _dialects_log(random.Random(4), chatter=False, runs=2000)
    reader = LogReader()
    reader.read_lines(1, quiet[:2500])
    parts = reader.read_lines(2501, quiet[2500:])
    in_columns = sum(len(part) for part in parts if isinstance(part, RecordRun))
    assert in_columns > 0.9 * sum(len(part) for part in parts)


def _warned_log(rng: random.Random, count: int = 12_000, odd: bool = True) -> list[str]:
    """Step lines in runs of 3-15, one or two lines of chatter after each run (a warning,
    a checkpoint, a blank line: layouts that yield nothing), after a few lines at the
    start that read as nothing (so the examples of unread lines fill up). ``odd``: now
    and then a loss of nan or a number that gains a digit (a layout not met before)."""
    lines = [f"note {word} {i}" for i, word in enumerate("abcdefghij")]
    lines += [f"warming up {word}" for word in "abcdef"]
    step = 10_000
    while len(lines) < count:
        for _ in range(rng.randrange(3, 16)):
            step += 1
            loss = rng.choice((math.nan, 1.5)) if odd and rng.random() < 0.002 else rng.random()
            lines.append(f"step {step} | loss {loss:.4f} | grad_norm {rng.random():.3f}")
        for _ in range(rng.randrange(1, 3)):
            if odd:
                lines.append(_chatter(rng, step))
            else:
                seen = f"{rng.randrange(10, 99)}.{rng.randrange(10)}% of the data seen"
                lines.append(rng.choice(("", f"Saving checkpoint-{step}", seen)))
    return lines


@pytest.mark.parametrize("seed", range(4))
def test_runs_of_one_kind_between_chatter_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(
        tmp_path / "warned.log", _warned_log(random.Random(seed)), (97, 500, 4096)
    )


def test_lines_that_yield_nothing_stay_in_a_weave(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short runs of step lines between lines of layouts that yield nothing: the quiet
    lines change no record, so they are counted and the step lines around them woven
    into columns, with no line matched or read the general way."""
    lines = _warned_log(random.Random(7), odd=False)
    reader = LogReader()
    reader.read_lines(1, lines[:2000])  # learns the layouts, and the quiet ones
    matched, fed = _matched(monkeypatch), _fed(monkeypatch)
    before = reader.unread_numeric
    rest = lines[2000:]
    parts = reader.read_lines(2001, rest)
    in_columns = sum(len(part) for part in parts if isinstance(part, RecordRun))
    assert in_columns > 0.95 * sum(len(part) for part in parts)
    assert matched[0] < len(rest) / 100
    assert fed[0] == 0
    assert reader.unread_numeric > before


def test_a_turn_of_dialect_before_a_weave_of_quiet_lines_reads_as_line_by_line(
    tmp_path: Path,
) -> None:
    """A line of a framework met for the first time, in a block before a weave, turns the
    log to its dialect, under which the weave's chatter is not known to yield nothing
    yet: the weave is then read line by line, which learns it."""
    lines = _warned_log(random.Random(1), 3000, odd=False)
    lines.append("step: 20000  loss:  2.3456  memory: 12.34GiB(31.2%)")  # torchtitan's
    lines += _warned_log(random.Random(2), 3000, odd=False)[16:]
    assert_read_as_line_by_line(tmp_path / "turned.log", lines, (500, 2500, 4096))


def _non_finite_log(rng: random.Random) -> list[str]:
    """Long runs of lines whose values are printed without a digit (``nan``, ``inf``,
    ``-inf``, ``NaN``, ``Infinity``) beside numbers, as a run that went non-finite keeps
    printing: step lines, the same behind a prefix, HF dicts with a nan loss or epoch."""
    lines: list[str] = []
    step = 10_000
    texts = ("nan", "inf", "-inf", "NaN", "Infinity", "-nan")
    for _ in range(rng.randrange(60, 90)):
        kind = rng.choice(("step", "stamped", "dict", "finite"))
        bad = rng.choice(texts)
        for _ in range(rng.randrange(20, 200)):
            step += 1
            if kind == "dict":
                lines.append(
                    f"{{'loss': {bad}, 'grad_norm': {rng.random():.4f}, 'epoch': "
                    f"{rng.choice((f'{step / 1000:.2f}', 'nan'))}}}"
                )
                continue
            loss = f"{rng.random():.4f}" if kind == "finite" else bad
            text = f"step {step} | loss {loss} | grad_norm {rng.choice((bad, '1.234'))}"
            if kind == "stamped":
                text = f"2024-05-01 10:{step % 60:02d}:07,123 - INFO - {text}"
            lines.append(text)
    return lines


@pytest.mark.parametrize("seed", range(4))
def test_values_printed_without_a_digit_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(
        tmp_path / "nonfinite.log", _non_finite_log(random.Random(seed)), (97, 500, 4096)
    )


def test_a_stretch_of_nan_lines_is_read_without_matching_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A value printed without a digit is the same text on every line of the layout: a
    constant column of its plan, so a run that prints NaN goes in stretches."""
    lines = [f"step {i} | loss {i % 7 / 10:.4f} | grad_norm 1.234" for i in range(10_000, 12_000)]
    lines += [f"step {i} | loss nan | grad_norm nan" for i in range(12_000, 20_000)]
    reader = LogReader()
    reader.read_lines(1, lines[:3000])  # learns both layouts
    matched = _matched(monkeypatch)
    parts = reader.read_lines(3001, lines[3000:])
    assert matched[0] < 100
    runs = [part for part in parts if isinstance(part, RecordRun)]
    assert sum(len(run) for run in runs) > 6000
    assert all(math.isnan(value) for run in runs for value in run.values[:, 0])


def test_blocks_after_a_layout_new_at_a_blocks_start_are_stretched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An epoch that gains a digit (99.99 -> 100.00) just after a block starts leaves the
    block few stretches at first sight; its new layout, learned from the block's first
    lines, stretches the rest. The next blocks then look for stretches as ever, instead
    of being read line by line as after a block of chatter."""
    size = 24_576
    lines = _hf_lines(4 * size, first_epoch=100 - (size + 50) / 1000)
    reader = LogReader()
    for start in range(0, 2 * size, size):
        reader.read_lines(start + 1, lines[start : start + size])
    matched = _matched(monkeypatch)
    for start in range(2 * size, 4 * size, size):
        reader.read_lines(start + 1, lines[start : start + size])
    assert matched[0] < 200


def _thousands_log(rng: random.Random) -> list[str]:
    """Numbers printed in thousands groups (``f"{n:,}"``, ``f"{n:_}"``) beside plain
    ones, as trainers print steps, samples and tokens: groups whose count grows inside a
    stretch, fractions, signs, more digits than a float holds exactly, a head of 4
    digits the pattern does not group, and a setup banner's counts between the lines."""
    lines: list[str] = []
    step = rng.choice((1, 990, 99_990, 999_990))
    for _ in range(rng.randrange(30, 50)):
        kind = rng.choice(("comma", "under", "fraction", "signed", "huge", "odd", "dict"))
        for _ in range(rng.randrange(20, 400)):
            step += rng.choice((1, 1, 1, 9))
            loss = f"{rng.random() * 3:.4f}"
            tokens = step * rng.choice((4096, 2048, 1))
            if kind == "comma":
                lines.append(f"step {step:,}/1,000,000 | loss {loss} | tokens {tokens:,}")
            elif kind == "under":
                lines.append(f"iter {step:_} loss={loss} samples={tokens:_}")
            elif kind == "fraction":
                lines.append(f"step {step} | loss {loss} | tok/s {tokens / 7:,.1f}")
            elif kind == "signed":
                lines.append(f"step {step} | loss {loss} | delta {-tokens:,}")
            elif kind == "huge":
                flops = rng.randrange(10**14, 10**22)  # past 2**53: a join of groups rounds twice
                lines.append(f"step {step} | loss {loss} | flops {flops:,}")
            elif kind == "odd":  # 4 digits before a group: not a thousands number
                lines.append(
                    f"step {step} | loss {loss} | n {tokens % 9000 + 1000},{step % 1000:03d}"
                )
            else:
                lines.append(
                    f"{{'loss': {loss}, 'num_tokens': '{tokens:,}', 'epoch': {step / 997:.2f}}}"
                )
        if rng.random() < 0.5:
            lines += ["***** Running training *****", f"  Num examples = {rng.randrange(10**6):,}"]
    return lines


@pytest.mark.parametrize("seed", range(5))
def test_numbers_in_thousands_groups_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(
        tmp_path / "thousands.log", _thousands_log(random.Random(seed)), (97, 500, 4096)
    )


def test_a_stretch_of_numbers_in_thousands_groups_is_read_without_matching_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Steps and token counts printed with separators are read in stretches, as the same
    numbers printed without them are."""
    lines = [
        f"step {i:,}/1,000,000 | loss {2 - i / 10**6:.4f} | tokens {i * 4096:_}"
        for i in range(99_000, 105_000)
    ]
    reader = LogReader()
    reader.read_lines(1, lines[:3000])
    matched = _matched(monkeypatch)
    parts = reader.read_lines(3001, lines[3000:])
    assert matched[0] < 100
    runs = [part for part in parts if isinstance(part, RecordRun)]
    assert sum(len(run) for run in runs) > 2900
    records = [record for part in parts for record in part]
    # (The first completes the record the last read left open.)
    assert [record.step for record in records[:3]] == [101_999, 102_000, 102_001]
    assert records[1].metrics["tokens"] == 102_000 * 4096
