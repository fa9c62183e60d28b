"""Lines tagged with the rank that printed them (``[rank3]:``, ``[default3]:``,
``[1,3]<stdout>:``): only one rank's lines are read. A tagged line's layout keeps the
tag's digits (``grammar.layout``), so the kept rank's lines are learned, compiled and
stretched like any others, and the other ranks' lines are skipped as quiet lines; both
give what reading line by line gives."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gradlog.parse.grammar import BYTE_DIGITS, layout
from gradlog.parse.reader import LogReader
from tests.test_layouts import assert_read_as_line_by_line
from tests.test_stretches import _fed

_TAGS = ("[rank{r}]:", "[rank{r}]: ", "[default{r}]:", "[0,{r}]<stdout>:", "  [rank{r}]:")
_BODIES = (
    "step {s} | loss {v:.4f} | grad_norm {g:.3f} | lr 3.0e-04",
    "[titan] 2025-07-21 08:15:42,907 - root - INFO - step: {s}  loss: {v:.5f}  grad_norm: {g:.4f}",
    "{{'loss': {v:.4f}, 'grad_norm': {g}, 'epoch': {e}}}",
    "iter {s}: loss {v:.4f}, time 171.55ms",
)
# What other ranks (and the kept one, now and then) print besides: warnings, colour,
# a backspace, an untagged line, a bare rank number, a non-ASCII rank digit.
_ODD = (
    "{tag}UserWarning: something {s}",
    "{tag}\x1b[32mstep {s}\x1b[0m | loss {v:.4f}",
    "{tag}step {s} | loss {v:.4f}\b\b\b 9.9",
    "step {s} | loss {v:.4f}",
    "{r}: step {s} | loss {v:.4f}",
    "[rank\u0663]: step {s} | loss {v:.4f}",
    "",
)


def _ranked_log(rng: random.Random) -> list[str]:
    """Runs of steps from 1-12 ranks (ranks 0-15, so tags of one and two digits), each
    rank printing each step in an order that changes, every rank the same or its own
    values; a tag's form, a body's layout and a CRLF end that change now and then; and
    now and then an odd line."""
    lines: list[str] = []
    step = 0
    for _ in range(rng.randrange(3, 8)):
        ranks = rng.sample(range(16), rng.randrange(1, 13))
        tag = rng.choice(_TAGS)
        body = rng.choice(_BODIES)
        end = "\r" if rng.random() < 0.2 else ""
        same = rng.random() < 0.5
        for _ in range(rng.randrange(20, 300)):
            step += 1
            v, g = rng.random() * 3, rng.random()
            if rng.random() < 0.3:
                rng.shuffle(ranks)
            for r in ranks:
                if not same:
                    v, g = rng.random() * 3, rng.random()
                text = body.format(s=step, v=v, g=g, e=step / 100)
                lines.append(tag.format(r=r) + text + end)
            if rng.random() < 0.05:
                odd = rng.choice(_ODD)
                r = rng.choice(ranks)
                lines.append(odd.format(tag=tag.format(r=r), r=r, s=step, v=rng.random()))
    return lines


@pytest.mark.parametrize("seed", range(8))
def test_ranked_lines_read_as_line_by_line(tmp_path: Path, seed: int) -> None:
    assert_read_as_line_by_line(
        tmp_path / "ranks.log", _ranked_log(random.Random(seed)), (7, 97, 4096)
    )


def test_a_layout_keeps_a_rank_tags_digits_only() -> None:
    for line, kept in [
        ("[rank3]: step 12 loss 0.5", b"[rank3]: step 00 loss 0.0"),
        ("[default12]:step 12", b"[default12]:step 00"),
        (" [1,3]<stdout>: loss 0.5", b" [1,3]<stdout>: loss 0.0"),
        ("[rank3]: loss 0.5\r", b"[rank3]: loss 0.0\r"),
        ("step 3 [rank3]: loss 0.5", b"step 0 [rank0]: loss 0.0"),  # not at the start
        ("[rank3]: a\r[rank3]: b", b"[rank0]: a\r[rank0]: b"),  # redrawn: clean reads states
        ("[rank3]:\b\b loss 0.5", b"[rank0]:\b\b loss 0.0"),  # a backspace may rewrite it
        ("3: loss 0.5", b"0: loss 0.0"),
    ]:
        data = line.encode()
        assert layout(data) == kept, line
        assert layout(data).translate(BYTE_DIGITS) == data.translate(BYTE_DIGITS)


def test_the_kept_ranks_lines_are_compiled_and_the_others_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Eight ranks printing every step: once their layouts are known, few lines go
    through ``feed`` (those of the layouts new at step 1000, till they are learned),
    and the records are rank 0's, one a step."""
    lines = [
        f"[rank{r}]: step {s} | loss {2 / s + r:.4f} | lr 3.0e-04"
        for s in range(1, 3001)
        for r in range(8)
    ]
    reader = LogReader()
    records = reader.feed_lines(1, lines[:800])
    fed = _fed(monkeypatch)
    records += reader.feed_lines(801, lines[800:])
    records += reader.flush()
    assert fed[0] <= 100  # of 23,200
    assert [r.step for r in records] == list(range(1, 3001))
    assert all(r.metrics["loss"] == round(2 / r.step, 4) for r in records)


@pytest.mark.parametrize("rewrite", ["\b" * 8, "\r"])
def test_a_tag_the_line_rewrites_is_not_kept(tmp_path: Path, rewrite: str) -> None:
    """Backspaces (or a redraw) that replace the tag with another: the tag a line opens
    with may not be the rank ``clean`` reads, so it does not key the layout (rank 3's
    line that rewrites its tag to rank 3's is no key for one that rewrites it to 0's)."""
    lines = [f"[rank0]: step {s} | loss {1 / s:.4f}" for s in range(1, 60)]  # rank 0 is kept
    lines += [f"[rank3]:{rewrite}[rank3]: step {s} | loss 9.0000" for s in range(60, 70)]
    lines += [f"[rank3]:{rewrite}[rank0]: step {s} | loss {1 / s:.4f}" for s in range(70, 160)]
    assert_read_as_line_by_line(tmp_path / "ranks.log", lines, (7, 97, 4096))


def test_ranks_first_seen_in_the_middle_of_a_block(tmp_path: Path) -> None:
    """Untagged lines, then ranks 0-3 from the middle of a block on: rank 3's lines are
    no rank 0's, though their layouts are the same but for the tag's digit."""
    lines = [f"step {s} | loss {1 / s:.4f}" for s in range(1, 200)]
    lines += [
        f"[rank{r}]: step {s} | loss {r + 1 / s:.4f}" for s in range(200, 400) for r in (3, 0)
    ]
    assert_read_as_line_by_line(tmp_path / "ranks.log", lines, (1000, 4096))
