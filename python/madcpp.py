"""madcpp from Python: results as pandas DataFrames, architecture descriptions, sweep plans and training.

    PYTHONPATH=build/release/python python3 -c "import madcpp; print(madcpp.scores('runs/quick.db'))"

The numbers are those the `mad` commands print (`mad scores`, `mad runs`, `mad runs show`, `mad describe
--json`, `mad train --json`): the C++ core (_madcpp) returns the same JSON, read here with Python's json.
Bad input raises RuntimeError with mad's one-line message.
"""
import json
import os

import pandas as pd

import _madcpp

__all__ = ["scores", "runs", "epochs", "layers", "describe", "sweep_plan", "train"]

_METRICS = ("loss", "ppl", "acc", "token_acc")


def _spec_text(spec, what):
    """A spec given as a dict, a path to a YAML file or YAML text: (text, source name, directory of relative paths)."""
    if isinstance(spec, dict):
        return json.dumps(spec), what, os.getcwd()  # JSON is YAML
    if isinstance(spec, (str, os.PathLike)) and os.path.isfile(spec):
        with open(spec, encoding="utf-8") as f:
            return f.read(), str(spec), os.path.dirname(os.path.abspath(spec))
    if isinstance(spec, str):
        return spec, what, os.getcwd()
    raise TypeError(f"{what}: give a dict, a YAML file's path or YAML text, not {type(spec).__name__}")


def _flatten_setting(rows):
    """Each row's task-setting map as columns (vocab_size, seq_len, ...), like the view run_table."""
    for row in rows:
        for name, value in row.pop("setting", {}).items():
            row.setdefault(name, value)
    return rows


def scores(db, sweep=None, by_setting=False, stat="mean"):
    """`mad scores --db DB [--sweep S] [--by-setting] [--stat mean|max] --format json` as a DataFrame:
    one row per architecture and task (task 'mean': the overall score), or per task setting."""
    rows = json.loads(_madcpp.scores(os.fspath(db), sweep or "", by_setting, stat))
    return pd.DataFrame(_flatten_setting(rows) if by_setting else rows)


def runs(db, status=None):
    """`mad runs --db DB --format json` as a DataFrame, one row per run, the task settings as columns."""
    return pd.DataFrame(_flatten_setting(json.loads(_madcpp.runs(os.fspath(db), status or ""))))


def epochs(db, key):
    """Every epoch of one run (KEY: a unique prefix), as `mad runs show KEY --format json` has them:
    columns epoch, lr, train_loss ... test_token_acc, seconds (the results store's run_epochs)."""
    run = json.loads(_madcpp.run_show(os.fspath(db), key))
    rows = []
    for e in run["epoch_metrics"]:
        row = {"key": run["key"], "epoch": e["epoch"], "lr": e["lr"]}
        for split in ("train", "test"):
            row.update({f"{split}_{m}": e[split][m] for m in _METRICS})
        row["seconds"] = e["seconds"]
        rows.append(row)
    return pd.DataFrame(rows)


def layers(dim=128, seq_len=128):
    """The layer registry (`mad layers`): family, what it mixes, parameters and state at width dim."""
    return pd.DataFrame(json.loads(_madcpp.layers(dim, seq_len)))


def describe(spec, task=None, seq_len=0, vocab_size=0, batch_size=128):
    """`mad describe --json` of an architecture spec (a dict, a YAML file's path or YAML text):
    per layer and in total, parameters, state and FLOPs; at a task's baseline shape when task is given."""
    text, source, _ = _spec_text(spec, "architecture")
    return json.loads(_madcpp.describe(text, source, task or "", seq_len, vocab_size, batch_size))


def sweep_plan(spec):
    """The runs a sweep spec (a dict, a YAML file's path or YAML text) expands to, with their keys."""
    text, source, base = _spec_text(spec, "sweep")
    return pd.DataFrame(_flatten_setting(json.loads(_madcpp.sweep_plan(text, source, base))))


_TRAINING = ("epochs", "batch_size", "lr", "min_lr", "weight_decay", "weight_decay_groups")


def train(task, layers=None, arch=None, dim=128, threads=1, precision="f32", callback=None, **settings):
    """Trains one architecture on one task setting, as `mad train` does, and returns its `--json` dict.

    layers: a list of layer names (with dim), or arch: a spec (dict, YAML path or text). Keyword settings
    are the training's (epochs, batch_size, lr, min_lr, weight_decay, weight_decay_groups: "all" or
    "no_norm_bias") and the task's (vocab_size,
    seq_len, num_train_examples, ...: the task's protocol baseline otherwise). callback(epoch) is called
    with each finished epoch's dict (the keys of `mad train --log-jsonl`). The GIL is released while
    training."""
    if (layers is None) == (arch is None):
        raise ValueError("train: give the architecture as layers=[...] or arch=... (one of them)")
    spec = {"dim": dim, "layers": list(layers)} if layers is not None else arch
    arch_text, _, _ = _spec_text(spec, "arch")
    training = {k: settings.pop(k) for k in _TRAINING if k in settings}
    task_settings = dict(settings, task=task)
    on_epoch = None if callback is None else (lambda line: callback(json.loads(line)))
    return json.loads(_madcpp.train(arch_text, json.dumps(task_settings), json.dumps(training), threads, precision,
                                    on_epoch))
