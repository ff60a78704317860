"""Mixing: how many train rows each subset contributes, so that target token shares are met exactly.

Every row holds seq_len + 1 tokens, so a subset's token share is its row share. `mixture_counts` turns
the measured rows per subset into target rows per subset:
- natural: every row once;
- factors: round(rows * factor) (a subset without a factor keeps factor 1);
- shares:  round(share * total), where total is `total_rows` (0: the available train rows); when rounding
  would move a share by more than `tolerance` the total is raised until it does not.
`Mix` then realises the counts: each subset's rows get a global index from per-bucket offsets, a seeded
bijection on [0, n) permutes them, and a row at permuted position p gets target // n copies plus one
more when p < target % n. Upsampling thus repeats rows (as evenly as possible) and downsampling keeps a
hash-chosen subset, and the counts are hit exactly. Validation rows are not mixed.
"""
from __future__ import annotations

from typing import Any, Mapping

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.split import stable_hash

SHARE_TOLERANCE = 0.001  # 0.1 percentage point


class MixtureError(ValueError):
    """The mixture cannot be realised (e.g. a share for a subset that has no rows)."""


def _realised(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {s: (n / total if total else 0.0) for s, n in counts.items()}


def mixture_counts(available_rows: Mapping[str, int], mode: str, shares: Mapping[str, float] | None = None,
                   factors: Mapping[str, float] | None = None, total_rows: int = 0,
                   tolerance: float = SHARE_TOLERANCE) -> dict[str, int]:
    """Target train rows per subset (see the module doc). Raises MixtureError when impossible."""
    available = {s: int(n) for s, n in available_rows.items()}
    if any(n < 0 for n in available.values()):
        raise MixtureError(f"negative row counts: {available}")
    if mode == "natural":
        return dict(sorted(available.items()))
    if mode == "factors":
        factors = factors or {}
        unknown = sorted(set(factors) - set(available))
        if any(factors.get(s, 1.0) < 0 for s in available):
            raise MixtureError("mixture factors must be >= 0")
        if unknown and any(factors[s] > 0 for s in unknown):
            raise MixtureError(f"mixture factors name subsets with no train rows: {unknown}")
        return {s: int(round(n * float(factors.get(s, 1.0)))) for s, n in sorted(available.items())}
    if mode != "shares":
        raise MixtureError(f"unknown mixture mode {mode!r} (shares | factors | natural)")
    shares = {s: float(v) for s, v in (shares or {}).items()}
    if not shares or abs(sum(shares.values()) - 1.0) > 1e-6 or any(v < 0 for v in shares.values()):
        raise MixtureError(f"mixture shares must be >= 0 and sum to 1, got {shares}")
    empty = sorted(s for s, v in shares.items() if v > 0 and available.get(s, 0) == 0)
    if empty:
        raise MixtureError(f"mixture gives a share to subsets with no train rows: {', '.join(empty)}")
    subsets = sorted(set(available) | set(shares))
    total = int(total_rows) or sum(available.values())
    if total <= 0:
        return {s: 0 for s in subsets}
    # Rounding error per subset is at most 0.5 / total, so this loop ends by total = 1 / tolerance.
    while True:
        counts = {s: int(round(shares.get(s, 0.0) * total)) for s in subsets}
        realised = _realised(counts)
        if all(abs(realised[s] - shares.get(s, 0.0)) <= tolerance for s in subsets):
            return counts
        total += 1


def mixture_report(available_rows: Mapping[str, int], targets: Mapping[str, int], mode: str,
                   shares: Mapping[str, float] | None, tokens_per_row: int) -> dict[str, Any]:
    """The manifest's `mixture` section: per subset, target and realised shares of train tokens."""
    realised = _realised(targets)
    natural = _realised(available_rows)
    subsets = {}
    for s in sorted(set(available_rows) | set(targets)):
        target_share = (shares or {}).get(s, 0.0) if mode == "shares" else realised.get(s, 0.0)
        n, t = available_rows.get(s, 0), targets.get(s, 0)
        subsets[s] = {
            "available_rows": n,
            "rows": t,
            "tokens": t * tokens_per_row,
            "natural_share": round(natural.get(s, 0.0), 8),
            "target_share": round(float(target_share), 8),
            "realised_share": round(realised.get(s, 0.0), 8),
            "factor": round(t / n, 6) if n else 0.0,
            "repeated_rows": max(0, t - n),
            "dropped_rows": max(0, n - t),
        }
    return {"mode": mode, "tokens_per_row": tokens_per_row, "train_rows": sum(targets.values()),
            "train_tokens": sum(targets.values()) * tokens_per_row, "subsets": subsets}


def permute_index(index: int, n: int, key: str) -> int:
    """A seeded bijection on [0, n): a 4-round Feistel network on the next even bit width, cycle-walked."""
    if not 0 <= index < n:
        raise ValueError(f"index {index} outside [0, {n})")
    if n == 1:
        return 0
    bits = max(2, (n - 1).bit_length())
    bits += bits % 2
    half = bits // 2
    mask = (1 << half) - 1
    x = index
    while True:
        left, right = x >> half, x & mask
        for round_ in range(4):
            left, right = right, left ^ (stable_hash("feistel", key, round_, right) & mask)
        x = (left << half) | right
        if x < n:  # outside [0, n): walk on; the chain returns inside because the network is a bijection
            return x


def copies_for(position: int, available: int, target: int) -> int:
    """How many times the row at permuted `position` (of `available`) appears among `target` rows."""
    return target // available + (1 if position < target % available else 0)


def bucket_offsets(bucket_rows: Mapping[tuple[str, int], int]) -> tuple[dict[tuple[str, int], int], dict[str, int]]:
    """Global row offset of every (subset, bucket), buckets in order; and rows per subset."""
    offsets: dict[tuple[str, int], int] = {}
    totals: dict[str, int] = {}
    for subset, bucket in sorted(bucket_rows):
        offsets[(subset, bucket)] = totals.get(subset, 0)
        totals[subset] = totals.get(subset, 0) + bucket_rows[(subset, bucket)]
    return offsets, totals


class Mix(beam.PTransform):
    """Train rows (from Pack) -> the mixed rows, one element per copy, each with a `copy` number.

    Row counts per (subset, bucket) are measured from the input and used as a side input. After the
    transform is applied, `mix.report` is a singleton PCollection holding `mixture_report(...)` (target
    and realised shares). Counts `mix:repeated_rows_<subset>` and `mix:dropped_rows_<subset>`.
    """

    def __init__(self, mode: str, shares: Mapping[str, float] | None, factors: Mapping[str, float] | None,
                 seed: int, seq_len: int | None = None, total_rows: int = 0):
        super().__init__()
        self._mode = mode
        self._shares = dict(shares or {})
        self._factors = dict(factors or {})
        self._seed = seed
        self._tokens_per_row = None if seq_len is None else seq_len + 1
        self._total_rows = total_rows
        self.report = None  # set by expand

    def expand(self, rows):
        mode, shares, factors, seed = self._mode, self._shares, self._factors, self._seed
        tokens_per_row, total_rows = self._tokens_per_row, self._total_rows

        def plan(counted: list[tuple[tuple[str, int], tuple[int, int]]]) -> dict[str, Any]:
            bucket_counts = {key: n for key, (n, _) in counted}
            widths = {width for _, (_, width) in counted}
            width = tokens_per_row or (widths.pop() if len(widths) == 1 else 0)
            if tokens_per_row and widths - {tokens_per_row}:
                raise MixtureError(f"rows of {sorted(widths)} tokens, expected {tokens_per_row}")
            offsets, available = bucket_offsets(bucket_counts)
            targets = mixture_counts(available, mode, shares, factors, total_rows)
            return {"offsets": offsets, "available": available, "targets": targets,
                    "report": mixture_report(available, targets, mode, shares, width)}

        counts = (rows
                  | "KeyBucket" >> beam.Map(lambda r: ((r["subset"], r["bucket"]), (1, len(r["input_ids"]))))
                  | "CountBucket" >> beam.CombinePerKey(lambda vs: _count_and_width(vs))
                  | "AllCounts" >> beam.combiners.ToList())
        mix_plan = counts | "Plan" >> beam.Map(plan)

        def realise(row, the_plan):
            subset = row["subset"]
            n, target = the_plan["available"][subset], the_plan["targets"].get(subset, 0)
            global_index = the_plan["offsets"][(subset, row["bucket"])] + row["index"]
            position = permute_index(global_index, n, f"{seed}:{subset}")
            copies = copies_for(position, n, target)
            if copies == 0:
                Metrics.counter("gap", f"mix:dropped_rows_{subset}").inc()
            elif copies > 1:
                Metrics.counter("gap", f"mix:repeated_rows_{subset}").inc(copies - 1)
            for copy in range(copies):
                yield {**row, "copy": copy}

        mixed = rows | "Realise" >> beam.FlatMap(realise, beam.pvalue.AsSingleton(mix_plan))
        self.report = mix_plan | "Report" >> beam.Map(lambda p: p["report"])
        return mixed


def _count_and_width(values) -> tuple[int, int]:
    """Combine (rows, row width) pairs: rows add up; the width is the same for every row."""
    total, width = 0, 0
    for n, w in values:
        total += n
        width = max(width, w)
    return total, width
