"""Mixing: how many train rows each subset (or source) contributes, so target token shares are met exactly.

The mixture key is the subset (`by="subset"`, the default) or the source (`by="source"`: rows must be
packed by source, so each row holds one source). Everything below says "subset" for the key.

Every row holds seq_len + 1 tokens, so a subset's token share is its row share. `mixture_counts` turns
the measured rows per subset into target rows per subset:
- natural: every row once;
- factors: round(rows * factor) (a subset without a factor keeps factor 1);
- shares:  round(share * total), where total is `total_rows` (0: the available train rows); when rounding
  would move a share by more than `tolerance` the total is raised until it does not.
`row_orders` then realises the counts: each subset's rows get a global index from per-bucket offsets (a
bucket is one packed part), a seeded bijection on [0, n) permutes them, and a row at permuted position p
gets target // n copies plus one more when p < target % n. Upsampling thus repeats rows (as evenly as
possible) and downsampling keeps a hash-chosen subset, and the counts are hit exactly. Validation rows
are not mixed.

Every mixed row copy gets its number in the mixed train stream ("order"): the keys' targets laid end to
end (keys sorted), and inside a key copy * n + p, which is a bijection onto [0, target). Validation rows
are numbered in (key, bucket, index) order. The shard writer shuffles and cuts that stream by position,
so no step needs the rows in one place. `plan_mixture` computes all of it from one small record per
packed (part, group). By source, the shares of the subsets (sums over their sources) are held to the
same tolerance, and the report lists both levels.
"""
from __future__ import annotations

from typing import Any, Mapping

from apache_beam.metrics import Metrics

from transforms.split import TRAIN, VALIDATION, stable_hash

SHARE_TOLERANCE = 0.001  # 0.1 percentage point
MIXTURE_KEYS = ("subset", "source")


class MixtureError(ValueError):
    """The mixture cannot be realised (e.g. a share for a subset that has no rows)."""


def _realised(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {s: (n / total if total else 0.0) for s, n in counts.items()}


def _group_sums(values: Mapping[str, Any], groups: Mapping[str, str]) -> dict[str, Any]:
    """Values summed per group (e.g. sources' shares or rows per subset); keys without a group are left out."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in groups:
            out[groups[key]] = out.get(groups[key], 0) + value
    return out


def mixture_counts(available_rows: Mapping[str, int], mode: str, shares: Mapping[str, float] | None = None,
                   factors: Mapping[str, float] | None = None, total_rows: int = 0,
                   tolerance: float = SHARE_TOLERANCE, by: str = "subset",
                   groups: Mapping[str, str] | None = None) -> dict[str, int]:
    """Target train rows per mixture key (see the module doc). Raises MixtureError when impossible.

    `by` only names the keys in messages. `groups` (key -> group, e.g. source -> subset) adds the
    condition that every group's summed share is within `tolerance` too.
    """
    kind = f"{by}s"
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
            raise MixtureError(f"mixture factors name {kind} with no train rows: {unknown}")
        return {s: int(round(n * float(factors.get(s, 1.0)))) for s, n in sorted(available.items())}
    if mode != "shares":
        raise MixtureError(f"unknown mixture mode {mode!r} (shares | factors | natural)")
    shares = {s: float(v) for s, v in (shares or {}).items()}
    if not shares or abs(sum(shares.values()) - 1.0) > 1e-6 or any(v < 0 for v in shares.values()):
        raise MixtureError(f"mixture shares must be >= 0 and sum to 1, got {shares}")
    empty = sorted(s for s, v in shares.items() if v > 0 and available.get(s, 0) == 0)
    if empty:
        raise MixtureError(f"mixture gives a share to {kind} with no train rows: {', '.join(empty)}")
    subsets = sorted(set(available) | set(shares))
    total = int(total_rows) or sum(available.values())
    if total <= 0:
        return {s: 0 for s in subsets}
    group_targets = _group_sums(shares, groups) if groups else {}
    # Rounding error per key is at most 0.5 / total, so this loop ends by total = 1 / tolerance (by
    # number of keys / tolerance with groups: a group's error is at most the sum of its keys').
    while True:
        counts = {s: int(round(shares.get(s, 0.0) * total)) for s in subsets}
        realised = _realised(counts)
        if all(abs(realised[s] - shares.get(s, 0.0)) <= tolerance for s in subsets):
            if not groups:
                return counts
            group_realised = _group_sums(realised, groups)
            if all(abs(group_realised.get(g, 0.0) - t) <= tolerance for g, t in group_targets.items()):
                return counts
        total += 1


def _report_entries(available_rows: Mapping[str, int], targets: Mapping[str, int],
                    target_shares: Mapping[str, float], tokens_per_row: int) -> dict[str, dict[str, Any]]:
    realised = _realised(targets)
    natural = _realised(available_rows)
    entries = {}
    for s in sorted(set(available_rows) | set(targets)):
        n, t = available_rows.get(s, 0), targets.get(s, 0)
        entries[s] = {
            "available_rows": n,
            "rows": t,
            "tokens": t * tokens_per_row,
            "natural_share": round(natural.get(s, 0.0), 8),
            "target_share": round(float(target_shares.get(s, 0.0)), 8),
            "realised_share": round(realised.get(s, 0.0), 8),
            "factor": round(t / n, 6) if n else 0.0,
            "repeated_rows": max(0, t - n),
            "dropped_rows": max(0, n - t),
        }
    return entries


def mixture_report(available_rows: Mapping[str, int], targets: Mapping[str, int], mode: str,
                   shares: Mapping[str, float] | None, tokens_per_row: int, by: str = "subset",
                   subset_of: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The manifest's `mixture` section: per subset, target and realised shares of train tokens.

    By source (`subset_of`: source -> subset) there is also a `sources` section with the same entries
    plus each source's subset; the `subsets` section then sums its sources (target share = the sum of
    its sources' target shares).
    """
    realised = _realised(targets)
    target_shares = dict(shares or {}) if mode == "shares" else realised
    report = {"mode": mode, "by": by, "tokens_per_row": tokens_per_row, "train_rows": sum(targets.values()),
              "train_tokens": sum(targets.values()) * tokens_per_row}
    if by == "subset":
        report["subsets"] = _report_entries(available_rows, targets, target_shares, tokens_per_row)
        return report
    subset_of = dict(subset_of or {})
    sources = _report_entries(available_rows, targets, target_shares, tokens_per_row)
    for name, entry in sources.items():
        entry["subset"] = subset_of.get(name)  # None: a source named in the config with no train rows
    report["subsets"] = _report_entries(_group_sums(available_rows, subset_of), _group_sums(targets, subset_of),
                                        _group_sums(target_shares, subset_of), tokens_per_row)
    report["sources"] = sources
    return report


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


def bucket_offsets(bucket_rows: Mapping[tuple[str, Any], int]) -> tuple[dict[tuple[str, Any], int], dict[str, int]]:
    """Global row offset of every (key, bucket), buckets in order; and rows per key. By source the
    bucket is (subset, bucket), the packing group of the source's rows."""
    offsets: dict[tuple[str, int], int] = {}
    totals: dict[str, int] = {}
    for subset, bucket in sorted(bucket_rows):
        offsets[(subset, bucket)] = totals.get(subset, 0)
        totals[subset] = totals.get(subset, 0) + bucket_rows[(subset, bucket)]
    return offsets, totals


def mixture_key(subset: str, source: str, part: int, by: str) -> tuple[str, Any]:
    """A packing group's mixture key and its bucket within that key: (subset, part) by subset; by
    source (source, (subset, part)), the packing group of the source's rows."""
    if by == "subset":
        return subset, part
    if not source:
        raise MixtureError("the mixture is by source but rows were packed without their source")
    return source, (subset, part)


def _subset_of_sources(bucket_counts: Mapping[tuple[str, Any], int]) -> dict[str, str]:
    subset_of: dict[str, str] = {}
    for source, (subset, _bucket) in sorted(bucket_counts):
        if subset_of.setdefault(source, subset) != subset:
            raise MixtureError(f"source {source!r} has rows in subsets {subset_of[source]!r} and {subset!r}; "
                               "a by-source mixture needs one subset per source")
    return subset_of


def key_offsets(counts: Mapping[str, int]) -> dict[str, int]:
    """Where each key's rows start when the keys' rows are laid end to end, keys sorted."""
    out, total = {}, 0
    for key in sorted(counts):
        out[key] = total
        total += int(counts[key])
    return out


def plan_mixture(groups: list, mode: str, shares: Mapping[str, float] | None, factors: Mapping[str, float] | None,
                 seq_len: int, by: str = "subset", total_rows: int = 0) -> dict[str, Any]:
    """The tail's plan from one small record per packed (part, group): ((split, subset, source, part),
    (rows, estimated bytes)). Per split: rows per (key, bucket) as global offsets, the stream's rows
    and estimated bytes (to size the shards); for train also the available and target rows per key
    (`mixture_counts`); and `report`, the manifest's mixture section. Its size is one entry per
    packed (part, group)."""
    if by not in MIXTURE_KEYS:
        raise MixtureError(f"unknown mixture key {by!r} ({' | '.join(MIXTURE_KEYS)})")
    rows: dict[str, dict] = {TRAIN: {}, VALIDATION: {}}
    sizes: dict[str, dict] = {TRAIN: {}, VALIDATION: {}}
    for (split, subset, source, part), (n, size) in groups:
        key_bucket = mixture_key(subset, source, part, by)
        rows[split][key_bucket] = int(n)
        sizes[split][key_bucket[0]] = sizes[split].get(key_bucket[0], 0) + int(size)
    plan: dict[str, Any] = {}
    offsets, available = bucket_offsets(rows[TRAIN])
    subset_of = _subset_of_sources(rows[TRAIN]) if by == "source" else None
    targets = mixture_counts(available, mode, shares, factors, total_rows, by=by, groups=subset_of)
    plan[TRAIN] = {"offsets": offsets, "available": available, "targets": targets, "key_offsets": key_offsets(targets),
                   "rows": sum(targets.values()),
                   # a key's copies cost its mean row size each
                   "bytes": sum(t * sizes[TRAIN][k] // available[k] for k, t in targets.items() if available.get(k))}
    offsets, totals = bucket_offsets(rows[VALIDATION])
    if by == "source":
        _subset_of_sources(rows[VALIDATION])
    plan[VALIDATION] = {"offsets": offsets, "key_offsets": key_offsets(totals), "rows": sum(totals.values()),
                        "bytes": sum(sizes[VALIDATION].values())}
    plan["report"] = mixture_report(available, targets, mode, shares, seq_len + 1, by, subset_of)
    return plan


def row_orders(plan: Mapping[str, Any], split: str, key: str, bucket: Any, index: int, seed: int,
               by: str = "subset") -> list[int]:
    """The numbers in the split's stream of the copies of row `index` of (key, bucket): validation rows
    once, in (key, bucket, index) order; train rows permuted per key and copied `copies_for` times,
    copy c of the row at permuted position p numbered key offset + c * n + p (a bijection onto the
    key's [0, target))."""
    the = plan[split]
    if split != TRAIN:
        return [the["key_offsets"][key] + the["offsets"][(key, bucket)] + index]
    n, target = the["available"][key], the["targets"].get(key, 0)
    global_index = the["offsets"][(key, bucket)] + index
    # By subset the permutation key stays "<seed>:<subset>"; sources get their own.
    position = permute_index(global_index, n, f"{seed}:{key}" if by == "subset" else f"{seed}:source:{key}")
    copies = copies_for(position, n, target)
    if copies == 0:
        Metrics.counter("gap", f"mix:dropped_rows_{key}").inc()
    elif copies > 1:
        Metrics.counter("gap", f"mix:repeated_rows_{key}").inc(copies - 1)
    base = the["key_offsets"].get(key, 0)
    return [base + copy * n + position for copy in range(copies)]
