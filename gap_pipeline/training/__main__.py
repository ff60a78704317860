"""`python -m gap_pipeline.training ...` = `gap train ...`, for training images that carry only torch,
pyarrow, numpy, safetensors and schemas (the `gap` CLI registers every pipeline command too):

    torchrun --nproc_per_node 8 -m gap_pipeline.training --data out/corpus --preset 7b --out runs/7b
"""
from __future__ import annotations

import argparse
import logging
import sys

from gap_pipeline.commands import train as train_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gap_pipeline.training")
    sub = parser.add_subparsers(dest="command")
    train_command.register(sub)
    args = parser.parse_args(["train", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
