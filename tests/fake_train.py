"""A stand-in for a training job: prints training-like lines with delays, no ML framework.

Run as ``python tests/fake_train.py --steps 20 --nan-at 12 --after-nan 5``; see --help.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10, help="steps to print")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds between steps")
    parser.add_argument("--nan-at", type=int, help="step whose loss and grad norm are nan")
    parser.add_argument("--after-nan", type=float, default=0.0, help="sleep after the nan line")
    parser.add_argument("--progress", action="store_true", help="a \\r bar before each step")
    parser.add_argument("--pieces", action="store_true", help="write each line in pieces")
    parser.add_argument("--no-final-newline", action="store_true")
    parser.add_argument("--exit-code", type=int, default=0)
    parser.add_argument(
        "--on-sigint",
        choices=("default", "checkpoint", "ignore"),
        default="default",
        help="checkpoint: say so and exit 130; ignore: carry on until SIGTERM",
    )
    return parser.parse_args(argv)


def lines(args: argparse.Namespace) -> list[bytes]:
    """Every piece of output, in order (the same for a given set of options)."""
    out: list[bytes] = [b"starting fake training [rank0] [bold]not markup[/bold]\n"]
    for step in range(1, args.steps + 1):
        if args.progress:
            out += [f"\r{pct:3d}%|{'#' * (pct // 10):<10}|".encode() for pct in (0, 50, 100)]
            out.append(b"\n")
        loss = "nan" if step == args.nan_at else f"{2.3 - 0.01 * step:.4f}"
        grad = "nan" if step == args.nan_at else f"{0.8 + 0.01 * (step % 3):.3f}"
        out.append(f"step {step} | loss {loss} | grad_norm {grad}\n".encode())
    out.append(b"training done")
    if not args.no_final_newline:
        out[-1] += b"\n"
    return out


def write(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def on_sigint(mode: str) -> None:
    def checkpoint(signum: int, frame: FrameType | None) -> None:
        write(b"got SIGINT, saving checkpoint\n")
        time.sleep(0.2)
        sys.exit(130)

    def terminated(signum: int, frame: FrameType | None) -> None:
        write(b"got SIGTERM\n")
        sys.exit(143)

    if mode == "checkpoint":
        signal.signal(signal.SIGINT, checkpoint)
    elif mode == "ignore":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, terminated)


def main() -> int:
    args = options()
    on_sigint(args.on_sigint)
    for piece in lines(args):
        if args.pieces and len(piece) > 6:
            write(piece[:6])
            time.sleep(args.delay / 2)
            piece = piece[6:]
        write(piece)
        if piece.endswith(b"\n"):
            time.sleep(args.delay)
        if b"nan" in piece:
            time.sleep(args.after_nan)
    return int(args.exit_code)


if __name__ == "__main__":
    sys.exit(main())
