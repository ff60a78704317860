"""argparse helpers: types for numbers on the command line (a bad value is a one-line usage error naming the
flag, argparse adds `argument --workers:`, never a traceback later in the run), and the subcommands that read
a built corpus."""
from __future__ import annotations

import argparse
import math


def _number(kind, minimum, text: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
    return value


def positive_int(text: str) -> int:
    return _number(int, 1, text)


def non_negative_int(text: str) -> int:
    return _number(int, 0, text)


def positive_float(text: str) -> float:
    value = _number(float, 0.0, text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    return _number(float, 0.0, text)


def corpus_command(sub, name: str, *, help: str, description: str,
                   out_help: str = "the corpus folder written by `gap build`") -> argparse.ArgumentParser:
    """A subcommand whose first argument is a built corpus folder, OUT (gap report, export, verify)."""
    p = sub.add_parser(name, help=help, description=description)
    p.add_argument("out", help=out_help)
    return p
