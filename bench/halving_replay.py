#!/usr/bin/env python3
# Successive halving replayed on a grid sweep's recorded epochs: an independent re-implementation of
# sweeps/halving.h's rule (docs/sweeps.md), to cross-check a measured halving sweep of the same runs and to
# price other schedules without training them. Standard library only.
# Usage (in a directory with grid.db and halving.db of configs/sweeps/reduced-*.yml):
#   halving_replay.py check    every halving run's status and epoch count against the replay
#   halving_replay.py          the worst per-task score difference and the epochs of several schedules
import collections
import math
import sqlite3
import sys

g = sqlite3.connect("grid.db")
runs = g.execute("""SELECT r.key, a.name, t.task, r.task_setting, r.status FROM runs r JOIN architectures a ON a.hash=r.architecture
                    JOIN task_settings t ON t.hash=r.task_setting""").fetchall()
epochs = collections.defaultdict(list)
for key, e, acc, ppl in g.execute("SELECT run_key, epoch, test_acc, test_ppl FROM run_epochs ORDER BY run_key, epoch"):
    epochs[key].append((e, acc, ppl))
E = 8  # the reduced protocol's epochs
def reported(h, upto):
    best = None
    for e, acc, ppl in h:
        if e > upto: break
        if best is None or ppl < best[2]: best = (e, acc, ppl)
    return best
def final(h):  # the grid run's reported accuracy
    return reported(h, 10**9)[1]
def simulate(rungs, keep):
    brackets = collections.defaultdict(list)
    for key, arch, task, setting, status in runs: brackets[(arch, task, setting)].append(key)
    out = {}
    for b, keys in brackets.items():
        cand = sorted(keys)
        status = {k: None for k in keys}
        trained = {}
        for r in rungs:
            def ended(k): return epochs[k][-1][0] < E and epochs[k][-1][0] <= r  # early stop before/at the rung
            ranked = sorted(cand, key=lambda k: (-(reported(epochs[k], r)[1]), reported(epochs[k], r)[2], k))
            n = max(1, min(len(ranked), math.ceil(keep * len(ranked) - 1e-9)))
            for k in ranked[n:]:
                if not ended(k): status[k] = ('pruned', r)
            cand = sorted(ranked[:n])
        for k in keys:
            if status[k] is None: status[k] = ('completed', epochs[k][-1][0])
        score = max(final(epochs[k]) for k in keys if status[k][0] == 'completed')
        ep = sum(min(len(epochs[k]), status[k][1]) for k in keys)
        out[b] = (score, max(final(epochs[k]) for k in keys), ep, sum(len(epochs[k]) for k in keys), status)
    return out
def report(rungs, keep):
    out = simulate(rungs, keep)
    per_task = collections.defaultdict(list)
    ep = full = 0
    for (arch, task, setting), (score, best, e, f, st) in out.items():
        per_task[(arch, task)].append(best - score); ep += e; full += f
    worst = max(sum(v) / len(v) for v in per_task.values())
    return worst, ep / full, out
if __name__ == "__main__":
    if sys.argv[1:] == ["check"]:
        h = sqlite3.connect("halving.db")
        measured = {k: (s, n) for k, s, n in h.execute("SELECT key, status, (SELECT count(*) FROM run_epochs WHERE run_key = key) FROM runs")}
        _, _, out = report([1, 2, 4], 0.5)
        bad = 0
        for b, (score, best, e, f, st) in out.items():
            for k, (s, at) in st.items():
                n = min(len(epochs[k]), at)
                if measured[k] != (s, n): bad += 1; print("differs", k[:12], measured[k], (s, n))
        print("runs whose status and epochs differ from the replay:", bad)
    else:
        for rungs in ([1, 2, 4], [1, 3], [2, 4], [2, 5], [1, 2], [2], [3], [4], [1, 4], [2, 4, 6]):
            for keep in (0.5, 0.34, 0.67):
                worst, frac, _ = report(rungs, keep)
                print(f"rungs {rungs} keep {keep}: worst per-task diff {worst:.4f}, epochs {frac:.0%} of the grid")
