#!/usr/bin/env python3
"""Summarises one bench/parity.sh run directory (mad-sS.jsonl and ref-sS.jsonl, one JSON line per epoch).

Prints a Markdown table: per epoch the mean and sample standard deviation over seeds of the test MAD
accuracy for madcpp and the reference, and their difference of means in units of the pooled standard
deviation sqrt((s_mad^2 + s_ref^2) / 2); then the largest such difference, each run's first epoch whose test
MAD accuracy exceeds --onset, and its best accuracy. A run that stopped early (test MAD accuracy > 0.999)
keeps its last value for the epochs after it, as the protocol's early stop means "converged"; a run cut
short otherwise (--stop-after, a time limit) drops out, so the n columns say how many seeds each mean has.
Standard library only, so it runs with any Python 3.
"""
import argparse
import glob
import json
import math
import os
import re
import statistics


def load(directory, side):
    runs = {}
    for path in sorted(glob.glob(os.path.join(directory, f"{side}-s*.jsonl"))):
        seed = int(re.search(r"-s(\d+)\.jsonl$", path).group(1))
        lines = [json.loads(l) for l in open(path) if l.strip()]
        # By epoch, the last line winning: a run killed after logging an epoch but before saving it
        # logs that epoch again when resumed.
        by_epoch = {l["epoch"]: l["test_acc"] for l in lines}
        if by_epoch:
            runs[seed] = [by_epoch[e] for e in sorted(by_epoch)]
    return runs


def at(curve, epoch, early_stopped):
    if epoch <= len(curve):
        return curve[epoch - 1]
    return curve[-1] if early_stopped else None


def column(runs, epoch):
    values = [at(c, epoch, c[-1] > 0.999) for c in runs.values()]
    return [v for v in values if v is not None]


def mean_std(values):
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def onset(curve, threshold):
    return next((i + 1 for i, a in enumerate(curve) if a > threshold), None)


def fmt(x, digits=3):
    return "-" if x is None else f"{x:.{digits}f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--onset", type=float, default=0.9)
    parser.add_argument("--every", type=int, default=0, help="print every Nth epoch (default: about 20 rows)")
    args = parser.parse_args()
    mad, ref = load(args.directory, "mad"), load(args.directory, "ref")
    epochs = max([len(c) for c in list(mad.values()) + list(ref.values())] + [0])
    print(f"### {os.path.basename(os.path.normpath(args.directory))}: {len(mad)} madcpp and {len(ref)} reference seeds\n")
    if epochs == 0:
        print("no epochs recorded\n")
        return
    every = args.every or max(1, epochs // 20)
    print("| epoch | madcpp n | madcpp mean | madcpp std | reference n | reference mean | reference std | diff / pooled std |")
    print("|---|---|---|---|---|---|---|---|")
    worst = (0.0, None)
    for e in range(1, epochs + 1):
        c1, c2 = column(mad, e), column(ref, e)
        (m1, s1), (m2, s2) = mean_std(c1), mean_std(c2)
        z = None
        if len(c1) > 1 and len(c2) > 1:  # a difference in pooled std needs a spread on both sides
            pooled = math.sqrt((s1 * s1 + s2 * s2) / 2)
            # Both sides identical across seeds (e.g. all at 1.0): no spread to measure the difference by.
            z = abs(m1 - m2) / pooled if pooled > 0 else (0.0 if m1 == m2 else math.inf)
            if z > worst[0]:
                worst = (z, e)
        if e % every == 0 or e in (1, epochs) or e <= 10:
            print(f"| {e} | {len(c1)} | {fmt(m1)} | {fmt(s1)} | {len(c2)} | {fmt(m2)} | {fmt(s2)} | {fmt(z, 2)} |")
    print(f"\nlargest difference of means: {fmt(worst[0], 2)} pooled std" +
          (f" (epoch {worst[1]})" if worst[1] else ""))
    for name, runs in (("madcpp", mad), ("reference", ref)):
        onsets = {s: onset(c, args.onset) for s, c in runs.items()}
        text = ", ".join(f"s{s}: {o if o else '>' + str(len(runs[s]))}" for s, o in onsets.items())
        best = ", ".join(f"{max(c):.3f}" for c in runs.values())
        print(f"\n{name}: first epoch with test MAD accuracy > {args.onset}: {text}; best accuracy per seed: {best}")
    print()


if __name__ == "__main__":
    main()
