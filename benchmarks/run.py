"""`make bench`: run every benchmarks/bench_*.py and write BENCHMARKS.md.

Each module exposes bench(quick=False) -> str (a Markdown section). Machines here have 2 noisy cores,
so every section reports medians of repeats and ratios measured side by side in the same run.
"""
from __future__ import annotations

import argparse
import importlib.util
import platform
import re
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


SECTION_MARK = "<!-- bench-section: {} -->"


def previous_sections(text: str) -> dict[str, str]:
    """The sections of an existing BENCHMARKS.md, by module name (from the markers main writes)."""
    found = {}
    parts = re.split(r"^<!-- bench-section: (\w+) -->\n", text, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2]):
        found[name] = body.rstrip() + "\n"
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="small inputs, for a smoke run")
    parser.add_argument("--only", nargs="*", help="run only these bench modules (e.g. bench_dedup); their "
                        "sections replace the same modules' sections in --out, the others are kept")
    args = parser.parse_args()
    sections: dict[str, str] = {}
    failed = []
    for path in sorted(HERE.glob("bench_*.py")):
        if args.only and path.stem not in args.only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        started = time.time()
        print(f"== {path.stem}", flush=True)
        try:
            spec.loader.exec_module(module)
            sections[path.stem] = module.bench(quick=args.quick).rstrip() + "\n"
        except Exception:
            failed.append(path.stem)
            sections[path.stem] = f"## {path.stem}\n\nFAILED:\n\n```\n{traceback.format_exc()}\n```\n"
        print(f"   {time.time() - started:.1f}s", flush=True)
    head = (
        "# Benchmarks\n\n"
        f"Written by `make bench` ({'quick' if args.quick else 'full'} run) on {platform.node() or 'this machine'}: "
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()}. "
        "Timings are medians of repeats; comparisons are measured side by side in the same run.\n\n"
    )
    out = Path(args.out)
    gpu = ""
    if out.exists():
        text = out.read_text(encoding="utf-8")
        marker = "<!-- gpu-bench -->"
        if marker in text:  # keep the GPU section written by `make bench-gpu` on a GPU machine
            gpu = text[text.index(marker):]
            text = text[:text.index(marker)]
        if args.only:  # a partial run keeps the other modules' sections as they were
            sections = {**previous_sections(text), **sections}
    body = "\n".join(f"{SECTION_MARK.format(name)}\n{sections[name]}" for name in sorted(sections))
    out.write_text(head + body + ("\n" + gpu if gpu else ""), encoding="utf-8")
    print(f"wrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
