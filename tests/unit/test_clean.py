"""Cleaning: text in, text out."""

from __future__ import annotations

import random

import pytest

from gradlog.parse.clean import clean, redraws

CASES = [
    ("plain line", ["plain line"]),
    ("windows ending\r\n", ["windows ending"]),
    (
        " 10/100 [=>...] loss: 0.9\r 20/100 [==>..] loss: 0.5",
        ["10/100 [=>...] loss: 0.9", "20/100 [==>..] loss: 0.5"],
    ),
    ("bar\r", ["bar"]),
    ("\x1b[1m469/469\x1b[0m \x1b[32mloss\x1b[0m: 0.5", ["469/469 loss: 0.5"]),
    ("\x1b[38;2;180;60;0mgrad_norm:\x1b[39m 3.8", ["grad_norm: 3.8"]),
    ("[1m469/469[0m loss", ["469/469 loss"]),
    ("> > Epoch 3/4", ["Epoch 3/4"]),
    ("```", []),
    ("12345\b\b\b\b\bloss: 1.0", ["loss: 1.0"]),
    # a backspace moves back, and what follows writes over: what it does not reach stays
    # (kuangliu's bar steps back into itself to print its counter; its message stays)
    (
        " [=>................]  Step: 52ms | Loss: 2.3" + " " * 6 + "\b" * 42 + " 2/40 ",
        ["[=>..... 2/40 .....]  Step_time: 52ms | Loss: 2.3      "],
    ),
    ("loss: 10.52\b\b\b\b\b0.4", ["loss: 0.452"]),  # (as a terminal shows it)
    # each redraw's backspaces stay within it: Keras' states are all kept
    (
        "1/9 [..] loss: 0.9" + "\b" * 18 + "\r2/9 [=.] loss: 0.8",
        ["1/9 [..] loss: 0.9", "2/9 [=.] loss: 0.8"],
    ),
    # an axis word whose number is a duration: the time it took, never the axis
    ("Step: 52ms | Tot: 21s632ms | Loss: 2.303", ["Step_time: 52ms | Tot: 21s632ms | Loss: 2.303"]),
    (
        "epoch: 12.3s, iter: 0.25s/it, loss 0.5",
        ["epoch_time: 12.3s, iter_time: 0.25s/it, loss 0.5"],
    ),
    ("Step 12 | 52ms", ["Step 12 | 52ms"]),
    ("Epoch 3 12s loss 0.5", ["Epoch 3 12s loss 0.5"]),
    ("a\tb", ["a  b"]),
    # a coefficient in a formula is no reading; a count's ``1/15 *`` stays
    ("Loss = 1.0 * OrgLoss", ["Loss = OrgLoss"]),
    ("loss = 0.5 * ce + 0.5 * kl", ["loss = ce + kl"]),
    ("1/15 * Epoch (train)", ["1/15 * Epoch (train)"]),
    ("loss: 2.5 * 3", ["loss: 2.5 * 3"]),
    ("batch_size B=32 * seq_len T=1024", ["batch_size B=32 * seq_len T=1024"]),
    ("loss = 1e-2 * reg", ["loss = reg"]),
    ("step 3 loss nan   <-- explodes here", ["step 3 loss nan"]),
    ("2024-05-01 10:00:00,123 - INFO - step 10 | loss 2.3", ["step 10 | loss 2.3"]),
    ("[2024-03-05 14:02:11,482] [INFO] [logging.py:96:log_dist] [Rank 0] step=10", ["step=10"]),
    ("I0318 09:41:22.517338 140227113338688 model_lib_v2.py:705] Step 2400", ["Step 2400"]),
    # SageMaker's built-in algorithms: a level, then the thread's id
    ("[05/21/2024 10:03:20 INFO 140318830225216] #progress", ["#progress"]),
    ("INFO:tensorflow:global step 230: loss = 0.8817", ["global step 230: loss = 0.8817"]),
    (
        "05/14 09:12:44 - mmengine - INFO - Epoch(train)  [3][ 450/1173]",
        ["Epoch(train)  [3][ 450/1173]"],
    ),
    ("[03/14 11:02:37 d2.utils.events]:  eta: 1:12:09  iter: 1239", ["eta: 1:12:09  iter: 1239"]),
    # a month-day date, and axis words glued to their numbers (NanoDet)
    (
        "[NanoDet][03-01 10:00:07]INFO:Train|Epoch1/60|Iter0(1/125)| lr:1.00e-07|",
        ["Train|Epoch 1/60|Iter 0(1/125)| lr:1.00e-07|"],
    ),
    # the logger's name after the level
    (
        "2024-01-22 14:03:21,430 - INFO - joeynmt.training - Epoch   1, Step:      100",
        ["Epoch   1, Step:      100"],
    ),
    ("2024-01-22 14:03:21,430 - INFO - __main__ - step 100", ["step 100"]),
    # a logger's name and the level, tab-separated (RVC's ``logging`` format)
    ("2023-07-02 21:14:05,012\tmi-test\tINFO\tloss_disc=3.825", ["loss_disc=3.825"]),
    # Swin's logger: a bracketed time and logger name, then the source place and level
    (
        "[2024-03-14 09:12:11 swin_tiny_patch4](main.py 254): INFO Train: [0/300][0/1251]",
        ["Train: [0/300][0/1251]"],
    ),
    (
        "[gpu-node3] 2023-09-14 16:22:41,093 (trainer:737) INFO: 12epoch:train:1-5batch: loss=2",
        ["12epoch:train:1-5batch: loss=2"],
    ),
    ("[2024-05-13 10:24:51,010] [    INFO] - loss: nan", ["loss: nan"]),
    # a rate after its number is its unit: it names no number after it (Sockeye)
    (
        "Speed: 420.32 samples/sec 12308.00 tokens/sec 3.12 updates/sec  perplexity=1110.5",
        ["Speed: 420.32 12308.00 3.12  perplexity=1110.5"],
    ),
    ("ips: 41.27 samples/s, eta: 1 day", ["ips: 41.27, eta: 1 day"]),
    ("samples/s: 41.27, loss: 2.1", ["samples/s: 41.27, loss: 2.1"]),
    # a number sign glued to a name before its number (dlib)
    ("step#: 394    learning rate: 0.01", ["step: 394    learning rate: 0.01"]),
    ("# epoch: 20", ["# epoch: 20"]),
    # a number sign before an axis's number (hivemind's ``Step #12``), not another word's
    ("[__main__.on_step_end:146] Step #12", ["Step 12"]),
    ("Episode #40: reward 12.5, epoch #3", ["Episode 40: reward 12.5, epoch 3"]),
    ("Using GPU #0 and issue #7", ["Using GPU #0 and issue #7"]),
    # a bracket holding a time, closed by the source's name and line (NeMo)
    ("[NeMo I 2024-03-05 14:02:03 megatron_gpt:37] step 3 loss 2.1", ["step 3 loss 2.1"]),
    ("[W 14:02:03 trainer.py:12] loss 2.1", ["loss 2.1"]),
    ("[2024-03-05 14:02:03 step 10] loss 2.1", ["[2024-03-05 14:02:03 step 10] loss 2.1"]),
    ("2024-05-01 10:00:00.123 | INFO     | train:main:42 - step 10", ["step 10"]),
    ("loss: 2.1307Batch 36: Invalid loss", ["loss: 2.1307 Batch 36: Invalid loss"]),
    # a date by the month's name: syslog and journalctl (with host and program[pid]), ts(1),
    # a logger's own, ctime's (mpirun --timestamp-output)
    ("May 01 10:00:00 gpu-node-3 python3[48213]: step 10 | loss 2.3", ["step 10 | loss 2.3"]),
    ("May 01 10:00:00 step 10 | loss 2.3", ["step 10 | loss 2.3"]),
    (
        "Mar 14 09:14:50.332 [INFO] [__main__.on_step_end:150] Local loss: 8.75",
        ["Local loss: 8.75"],
    ),
    ("Thu May  2 10:00:08 2024 Epoch 3 loss 0.5", ["Epoch 3 loss 0.5"]),
    ("Mar 5 is when loss 2.0 was seen", ["Mar 5 is when loss 2.0 was seen"]),
    # a day, then the month's name (Mocha.jl's logger, then Python's ``INFO:root:``)
    ("17-Nov 23:18:53:INFO:root:003000 :: loss = 0.97", ["003000 :: loss = 0.97"]),
    ("06-Dec-2026 10:00:00 - step 10 loss 2.3", ["step 10 loss 2.3"]),
    ("17 Nov runs: loss 2.0", ["17 Nov runs: loss 2.0"]),
    # where it was printed (host:rank, module:line), then the level (OLMo-core)
    (
        "2025-03-02 17:40:14.784\tnode-241.ai2.in:0\tolmo_core.train.trainer:628\tINFO\tstep 10",
        ["step 10"],
    ),
    ("trainer.py:88 WARNING loss 2.1", ["loss 2.1"]),
    ("epoch:3 loss:2.1 lr:0.1", ["epoch:3 loss:2.1 lr:0.1"]),
    # a magnitude's letter after a number (LeRobot's format_big_number): the number
    ("step:1K smpl:10K ep:24 loss:2.998", ["step:1000 smpl:10000 ep:24 loss:2.998"]),
    ("tokens: 1.25M, params 7B", ["tokens: 1250000, params 7000000000"]),
    # ... not a name's part, nor a unit of bytes, minutes or bits
    ("Llama-3B x4K v2.1K mem 1.5G eta 5m 2b 3Kb", ["Llama-3B x4K v2.1K mem 1.5G eta 5m 2b 3Kb"]),
    # Julia's Float32 literals; not a word's or a hex id's f
    ("Current loss is: 9.901898f-5 (2.5f6)", ["Current loss is: 9.901898e-5 (2.5e6)"]),
    ("0x1.5f3 a1.0f-3 1.0f-3x", ["0x1.5f3 a1.0f-3 1.0f-3x"]),
    # decimal commas, and then dots grouping thousands; the date DD.MM.YYYY a prefix
    (
        "12.03.2024 14:02:42 | Schritt 1.850/3.125 | Verlust: 1,5128 | acc: 52,85 % | LR: 4,6e-04",
        ["Schritt 1850/3125 | Verlust: 1.5128 | acc: 52.85 % | LR: 4.6e-04"],
    ),
    ("Loss 0,5; acc 0,9 | 1.423,3 img", ["Loss 0.5; acc 0.9 | 1423.3 img"]),
    # not a list's, a CSV row's, a thousands' comma, nor a time's milliseconds
    ("size=[64,1000] 1,2,3 step 1,000 loss .125", ["size=[64,1000] 1,2,3 step 1,000 loss .125"]),
    ("1,25", ["1,25"]),
    # a dash or a bar after a bracketed date (fast_adversarial's logger); a sign stays
    ("[2019/12/20 14:33:35] - 0 \t 21.5 \t \t 0.4000", ["0    21.5       0.4000"]),
    ("[2019-12-20 14:33:35] -0.5 loss", ["-0.5 loss"]),
    # a context of key=value pairs in brackets (NVFlare); not one of readings
    (
        "[identity=site-1, run=simulate_job, peer=server, task_id=778f]: Epoch: 0/2, Loss: 0.5",
        ["Epoch: 0/2, Loss: 0.5"],
    ),
    ("[epoch=1, step=100, lr=0.1] loss=0.3", ["[epoch=1, step=100, lr=0.1] loss=0.3"]),
    # a date, a time and a level in one bracket, and anything else in it (Pointcept)
    ("[2024-03-02 10:21:31,810 INFO misc.py line 119 812733] Test: [1/39]", ["Test: [1/39]"]),
    ("[rank=0, mode=train, step=5] loss 0.3", ["[rank=0, mode=train, step=5] loss 0.3"]),
    # the level, then a logger's name of one word and a dash (pytorch-3dunet): the
    # evaluation's line opens with its word again; a section's word stays
    (
        "2021-05-03 14:23:17,877 [MainThread] INFO UNet3DTrainer - Validation finished. Loss: 0.86",
        ["Validation finished. Loss: 0.86"],
    ),
    ("INFO Validation - loss: 0.5", ["Validation - loss: 0.5"]),
]


@pytest.mark.parametrize(("raw", "cleaned"), CASES)
def test_clean(raw: str, cleaned: list[str]) -> None:
    assert [segment.text for segment in clean(raw)] == cleaned


@pytest.mark.parametrize(
    ("raw", "rank"),
    [
        ("[rank1]: step 1", 1),
        ("[default0]:step 1", 0),
        ("[1,3]<stdout>:step 1", 3),
        ("2: step 1", 2),
        ("12: 483.117340, 491.982117 avg loss", None),
        ("step 1", None),
        ("[rank0]:[titan] 2025-07-21 08:15:42,907 - root - INFO - step: 40", 0),
        ("[Rank 2] step 1", 2),  # DeepSpeed's log_dist, hand-written loops
        ("[2024-05-01 10:00:00,001] [INFO] [logging.py:96:log_dist] [Rank 0] step 1", 0),
        ("[GPU3] step 1", 3),  # PyTorch's DDP tutorial
        ("[gpu 1]: step 1", 1),
        ("Rank 1: step 1", 1),
        ("GPU 0: step 1", 0),
        ("ranked 1: step 1", None),
    ],
)
def test_rank_prefixes(raw: str, rank: int | None) -> None:
    (segment,) = clean(raw)
    assert segment.rank == rank
    assert segment.text.startswith(("step", "12: 483", "ranked"))


@pytest.mark.parametrize("seed", range(5))
def test_redraws_drop_the_blank_states_as_strip_sees_them(seed: int) -> None:
    """Found by one search, the blank states are those ``str.strip`` leaves empty:
    spaces, tabs, Unicode spaces and separators alike, at the start, inside, at the end."""
    rng = random.Random(seed)
    alphabet = ["\r", "\r", " ", "\t", "\x0b", "\x1c", "\x85", "\xa0", "\u2028", "a", "7", "%"]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        expected = [text] if "\r" not in text else [s for s in text.split("\r") if s.strip()]
        assert redraws(text) == expected


def test_bar_states_glued_where_their_returns_were_lost_are_states() -> None:
    # A tqdm bar pasted without its ``\r``: the words the line opens with recur, and each
    # piece they begin reads alike (bars cut, numbers aside); the last may show more.
    states = [
        f"Epoch 3: {p:3d}%|{'#' * (p // 10):10s}| {p}/100 [00:0{p // 20}<00:01, 9.5it/s, "
        f"loss=0.{p}]"
        for p in (10, 20, 30)
    ]
    last = states[-1][:-1] + ", val_loss=0.71]"
    assert redraws("".join(states[:-1]) + last) == [*states[:-1], last]
    assert len(clean("".join(states))) == 3


@pytest.mark.parametrize(
    "line",
    [
        "Epoch 1 train loss 0.52 Epoch 1 val loss 0.61",  # the words recur, the pieces differ
        "loss 0.5 | loss_cls 0.3 | loss_box 0.2",  # a name's prefix recurs
        "ep 1 loss 0.5 ep 1 loss 0.4",  # an opening too short to tell
        "2024-05-01 step 10 loss 0.5 step 10 loss 0.4",  # a number opens the line
    ],
)
def test_a_line_whose_opening_recurs_differently_is_one_state(line: str) -> None:
    assert redraws(line) == [line]
