"""`gap train`: continued pretraining on the corpus shards with a bundled FSDP2 trainer.

Single process:   gap train --data out/corpus --preset tiny --steps 5 --out runs/tiny
Several GPUs:     torchrun --nproc_per_node 8 -m gap_pipeline.cli train --data ... --preset 7b ...
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from gap_pipeline.commands.args import non_negative_float, positive_int

log = logging.getLogger("gap.train")


def register(sub) -> None:
    p = sub.add_parser(
        "train", help="Train a Llama-style model on the shards (FSDP2; runs under torchrun)",
        description="Train a Llama-style decoder on the tokenized shards of `gap build`, with FSDP2, "
                    "resumable checkpoints and per-step metrics in RUN_DIR/metrics.jsonl. Runs alone "
                    "(one process) or under torchrun (RANK/WORLD_SIZE/LOCAL_RANK) on many GPUs and nodes.")
    p.add_argument("--data", type=Path, help="corpus folder written by `gap build` (manifest.json + shards)")
    p.add_argument("--preset", default="tiny", choices=("tiny", "1b", "7b"), help="model and run preset")
    p.add_argument("--config", type=Path, help="YAML file overriding the preset (keys as in RUN_DIR/run.json)")
    p.add_argument("--steps", type=positive_int, help="optimizer steps in the schedule (overrides the config)")
    p.add_argument("--out", type=Path, help="run folder: checkpoints/, metrics.jsonl, run.json")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--init-from", type=Path,
                   help="local Hugging Face Llama checkpoint folder (config.json + safetensors) to start from")
    p.add_argument("--stop-at", type=positive_int, help="stop after this step (checkpointed), keeping the --steps schedule")
    p.add_argument("--micro-batch-size", type=positive_int, help="rows per rank per micro-step")
    p.add_argument("--grad-accum", type=positive_int, help="micro-steps per optimizer step")
    p.add_argument("--lr", type=non_negative_float, help="peak learning rate")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile each block")
    p.add_argument("--activation-checkpointing", action="store_true", default=None,
                   help="recompute each block in backward to save memory")
    p.add_argument("--no-verify-shards", dest="verify_shards", action="store_false",
                   help="skip the sha256 check of every shard against manifest.json before training "
                        "(for trusted storage; a damaged shard then trains silently)")
    p.add_argument("--export", type=Path, metavar="DIR",
                   help="after training, write a Hugging Face Llama checkpoint (config, safetensors, tokenizer)")
    p.add_argument("--export-only", action="store_true",
                   help="do not train: export the latest checkpoint of --out to --export DIR")
    p.add_argument("--export-dtype", choices=("float32", "bfloat16", "float16"),
                   help="dtype of exported weights (default: bfloat16 when trained in bf16, else float32)")
    p.set_defaults(func=run)


def run(args) -> int:
    from gap_pipeline.training.checkpoint import CheckpointError
    from gap_pipeline.training.config import TrainConfigError
    from gap_pipeline.training.data import DataError
    from gap_pipeline.training.export import ExportError, export_run

    if args.out is None:
        raise SystemExit("gap train: --out RUN_DIR is required")
    if args.export_only:
        if args.export is None:
            raise SystemExit("gap train --export-only needs --export DIR")
        try:
            path = export_run(args.out, args.export, dtype=args.export_dtype)
        except (ExportError, CheckpointError) as exc:
            raise SystemExit(f"gap train: {exc}") from exc
        log.info("exported %s to %s", args.out, path)
        return 0
    if args.data is None:
        raise SystemExit("gap train: --data OUT (the corpus folder) is required")

    from gap_pipeline.training.loop import RunOptions, train

    overrides: dict = {}
    for flag, key in (("steps", "steps"), ("micro_batch_size", "micro_batch_size"), ("grad_accum", "grad_accum"),
                      ("compile", "compile"), ("activation_checkpointing", "activation_checkpointing")):
        if getattr(args, flag) is not None:
            overrides[key] = getattr(args, flag)
    if args.lr is not None:
        overrides["optim"] = {"lr": args.lr, "min_lr": min(args.lr, args.lr / 10)}
    opts = RunOptions(data=args.data, out=args.out, preset=args.preset, config_path=args.config,
                      overrides=overrides, resume=args.resume, init_from=args.init_from, stop_at=args.stop_at,
                      export_dir=args.export, export_dtype=args.export_dtype, verify_shards=args.verify_shards)
    try:
        summary = train(opts)
    except (TrainConfigError, DataError, ExportError, CheckpointError) as exc:
        raise SystemExit(f"gap train: {exc}") from exc
    final = summary.get("final") or {}
    if final and summary.get("rank", 0) == 0:
        log.info("done: step %d, loss %.4f; run folder %s", final["step"], final["loss"], summary["run_dir"])
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        _exit_worker()
    return 0


def _exit_worker() -> None:
    """End a torchrun worker without running C++ static destructors. Everything is written (checkpoints
    and exports are renamed into place, the process group destroyed); but once, under load, a rank
    aborted after its run had finished ('terminate called without an active exception': a torch/gloo
    thread torn down at interpreter exit), so torchrun reported a failed run that had succeeded."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
