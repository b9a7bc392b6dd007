#!/usr/bin/env python3
"""The translation/bare ratio table from criterion's estimates.

Run after `cargo bench -p adapters --bench translate`:
    python3 bench/translate-ratios.py [CARGO_TARGET_DIR]
Prints a Markdown table: mean time of decode(A)+encode(B), of the bare
format work on the same bytes, and their ratio (target: <= 1.5).
"""
import json
import os
import sys

target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", "target")
root = os.path.join(target, "criterion", "translate")
if not os.path.isdir(root):
    sys.exit(f"no criterion results under {root}: run the benchmark first")


def mean_us(name):
    path = os.path.join(root, name, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["mean"]["point_estimate"] / 1000.0


def title(name):
    path = os.path.join(root, name, "new", "benchmark.json")
    with open(path) as f:
        return json.load(f)["function_id"]


names = {title(d): d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "new", "benchmark.json"))}
pairs = sorted(n for n in names if not n.startswith("bare:"))
print("| A → B | translate (µs) | bare (µs) | ratio | ≤ 1.5× |")
print("|---|---:|---:|---:|:---:|")
worst = (0.0, "")
met = 0
for pair in pairs:
    t = mean_us(names[pair])
    b = mean_us(names["bare:" + pair])
    r = t / b
    met += r <= 1.5
    worst = max(worst, (r, pair))
    print(f"| {pair} | {t:.1f} | {b:.1f} | {r:.2f} | {'yes' if r <= 1.5 else 'no'} |")
print(f"\n{met} of {len(pairs)} pairs within 1.5×; worst {worst[1]} at {worst[0]:.2f}×")
