#!/usr/bin/env python3
"""Prints docs/research.md's seed-claims table (markdown) from a compression-sweep results.csv.

    python3 scripts/seed-table.py docs/seed-table.csv

One row per policy and compression ratio: the share of the cache kept, KV bytes against the full
cache, held-out perplexity and its change against `full`, and pass-key documents retrieved.
"""
import csv
import sys

MECHANISM = {
    "full": "keeps every token",
    "h2o": "evicts the lowest accumulated attention (heavy hitters + recent window)",
    "streaming": "keeps attention sinks + a recent window",
    "entropy-merge": "merges low-priority (high attention entropy) slots into similar neighbours",
    "snapkv": "evicts by the attention of the prompt's last window (the question)",
    "pyramidkv": "SnapKV scoring, per-layer budgets falling with depth",
}


def main(path):
    rows = [r for r in csv.DictReader(open(path)) if r["status"] == "succeeded"]
    cells = {}
    for r in rows:
        key = (r["kv_cache.policy"], float(r["compression_ratio"]), r["policy"])
        cells.setdefault(key, {})[r["task"]] = r
    full = next(tasks for key, tasks in cells.items() if key[0] == "full")
    full_ppl = float(full["perplexity"]["perplexity"])
    full_pk = full["passkey"]
    order = list(MECHANISM)
    print("| method | mechanism | compression (cache removed) | KV memory vs full | perplexity | vs full | pass-key |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for (policy, ratio, label), tasks in sorted(cells.items(), key=lambda kv: (
            order.index(kv[0][0]) if kv[0][0] in order else len(order), kv[0][2], kv[0][1])):
        ppl = tasks.get("perplexity")
        pk = tasks.get("passkey")
        kept = float(ppl["kept_share"]) if ppl and ppl.get("kept_share") else 1 - ratio
        p = float(ppl["perplexity"]) if ppl else None
        print("| `{}` | {} | {:.0%} | {:.0%} | {} | {} | {} |".format(
            label, MECHANISM.get(policy, ""), ratio, kept,
            "{:.2f}".format(p) if p else "",
            "{:+.1%}".format(p / full_ppl - 1) if p else "",
            "{}/{}".format(pk["correct"], pk["documents"]) if pk else ""))
    print()
    print("full: perplexity {:.2f}, pass-key {}/{}".format(full_ppl, full_pk["correct"], full_pk["documents"]))


if __name__ == "__main__":
    main(sys.argv[1])
