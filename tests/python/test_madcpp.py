"""The Python module madcpp against the mad executable: the same numbers, digit for digit.

Usage: test_madcpp.py MAD MAKE_SAMPLE_DB (with the module's directory on PYTHONPATH)."""
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import unittest

import madcpp

MAD, MAKE_SAMPLE_DB = sys.argv[1], sys.argv[2]


def mad_json(*args):
    return json.loads(subprocess.run([MAD, *args], check=True, capture_output=True, text=True).stdout)


def same(a, b):
    """Equal values, NaN and None (JSON null) counting as equal; lists and dicts element by element."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    missing = lambda v: v is None or (isinstance(v, float) and math.isnan(v))
    if missing(a) or missing(b):
        return missing(a) and missing(b)
    return a == b


def records(frame):
    return frame.to_dict(orient="records")


class Results(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.db = os.path.join(cls.dir.name, "sample.db")
        cls.seeds_db = os.path.join(cls.dir.name, "seeds.db")
        subprocess.run([MAKE_SAMPLE_DB, cls.db], check=True)
        subprocess.run([MAKE_SAMPLE_DB, cls.seeds_db, "--seeds"], check=True)

    def assert_rows_equal(self, frame, expected, flatten=None):
        rows = records(frame)
        self.assertEqual(len(rows), len(expected))
        for row, want in zip(rows, expected):
            want = dict(want)
            for name, value in want.pop(flatten, {}).items() if flatten else []:
                want.setdefault(name, value)
            self.assertTrue(same({k: row[k] for k in want}, want), (row, want))

    def test_scores_equal_mad_scores(self):
        for db in (self.db, self.seeds_db):
            self.assert_rows_equal(madcpp.scores(db), mad_json("scores", "--db", db, "--format", "json"))
            self.assert_rows_equal(madcpp.scores(db, by_setting=True),
                                   mad_json("scores", "--db", db, "--format", "json", "--by-setting"), "setting")
        self.assert_rows_equal(madcpp.scores(self.db, sweep="sweep-b"),
                               mad_json("scores", "--db", self.db, "--sweep", "sweep-b", "--format", "json"))
        scores = madcpp.scores(self.seeds_db)
        self.assertIn("ci_low", scores.columns)
        self.assertGreater(len(scores), 0)

    def test_runs_and_epochs_equal_mad_runs(self):
        expected = mad_json("runs", "--db", self.db, "--format", "json")
        frame = madcpp.runs(self.db)
        self.assert_rows_equal(frame, expected, "setting")
        self.assertIn("vocab_size", frame.columns)  # the settings as columns
        key = next(r["key"] for r in expected if r["status"] == "completed")
        shown = mad_json("runs", "show", key[:10], "--db", self.db, "--format", "json")
        epochs = records(madcpp.epochs(self.db, key[:10]))
        self.assertEqual(len(epochs), len(shown["epoch_metrics"]))
        for row, e in zip(epochs, shown["epoch_metrics"]):
            want = {"epoch": e["epoch"], "lr": e["lr"], "seconds": e["seconds"]}
            for split in ("train", "test"):
                want.update({f"{split}_{m}": e[split][m] for m in ("loss", "ppl", "acc", "token_acc")})
            self.assertTrue(same({k: row[k] for k in want}, want), (row, want))

    def test_errors_are_one_line(self):
        with self.assertRaises(RuntimeError) as caught:
            madcpp.scores(os.path.join(self.dir.name, "missing.db"))
        self.assertIn("missing.db", str(caught.exception))
        self.assertNotIn("\n", str(caught.exception))
        with self.assertRaises(RuntimeError) as caught:
            madcpp.scores(self.db, sweep="no-such-sweep")
        self.assertIn("no sweep 'no-such-sweep'", str(caught.exception))


ARCH = {"dim": 16, "layers": [{"type": "mh-attention", "n_heads": 2}, "swiglu"]}
TINY = dict(vocab_size=8, seq_len=16, num_train_examples=32, num_test_examples=16, epochs=2, batch_size=16)


class Models(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.arch_file = os.path.join(cls.dir.name, "arch.yml")
        with open(cls.arch_file, "w") as f:
            json.dump(ARCH, f)

    def test_layers_list_the_registry(self):
        frame = madcpp.layers()
        text = subprocess.run([MAD, "layers"], check=True, capture_output=True, text=True).stdout
        for row in records(frame):
            line = next(l for l in text.splitlines() if l.split()[:1] == [row["layer"]])
            self.assertIn(f" {row['params']} ", line)
        self.assertIn("mh-attention", set(frame.layer))

    def test_describe_takes_a_dict_a_path_or_yaml(self):
        expected = mad_json("describe", "--arch", self.arch_file, "--json")
        self.assertTrue(same(madcpp.describe(ARCH), expected))
        self.assertTrue(same(madcpp.describe(self.arch_file), expected))
        self.assertTrue(same(madcpp.describe("dim: 16\nlayers: [{type: mh-attention, n_heads: 2}, swiglu]"), expected))
        at_task = mad_json("describe", "--arch", self.arch_file, "--json", "--task", "in-context-recall")
        self.assertTrue(same(madcpp.describe(ARCH, task="in-context-recall"), at_task))
        with self.assertRaises(RuntimeError):
            madcpp.describe({"dim": 16, "layers": ["no-such-layer"]})

    def test_sweep_plan(self):
        spec = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sweeps", "tiny_sweep.yml")
        plan = madcpp.sweep_plan(spec)
        self.assertEqual(len(plan), mad_json("sweep", "plan", spec, "--json")["runs"])
        self.assertEqual(len(set(plan.key)), len(plan))
        self.assertEqual(set(plan.architecture), {"attention", "mlp"})

    def test_train_equals_mad_train(self):
        args = ["train", "--task", "in-context-recall", "--arch", self.arch_file, "--json", "--quiet"]
        for name, value in TINY.items():
            args += ["--" + name.replace("_", "-"), str(value)]
        expected = mad_json(*args)
        seen = []
        result = madcpp.train(task="in-context-recall", arch=ARCH, callback=seen.append, **TINY)
        for r in (result, expected):
            r.pop("seconds")
        self.assertTrue(same(result, expected), (result, expected))
        self.assertEqual([e["epoch"] for e in seen], list(range(1, expected["epochs_run"] + 1)))
        self.assertEqual([e["test_loss"] for e in seen], expected["test_loss_per_epoch"])
        self.assertTrue(all(e["key"] == expected["key"] for e in seen))
        layers = madcpp.train(task="in-context-recall", layers=["mlp", "swiglu"], dim=16, **TINY)
        self.assertEqual(layers["status"], "completed")
        with self.assertRaises(ValueError):
            madcpp.train(task="in-context-recall", **TINY)
        with self.assertRaises(RuntimeError):
            madcpp.train(task="in-context-recall", arch=ARCH, no_such_setting=1)

    def test_train_releases_the_gil(self):
        # While one thread trains, this one keeps running Python: it sees the training thread alive and
        # counts; with the GIL held for the whole training it would only get to count after it ended.
        # The training is long enough (about 0.2 s) that a loaded 2-core CI machine still lets this thread
        # run several times during it: TINY's few milliseconds could end before the first wait returned.
        ticks_while_training = 0
        long_enough = dict(TINY, num_train_examples=512, epochs=20)
        training = threading.Thread(target=madcpp.train, kwargs=dict(task="in-context-recall", arch=ARCH, **long_enough))
        training.start()
        while training.is_alive():
            ticks_while_training += 1
            threading.Event().wait(0.001)
        training.join()
        self.assertGreater(ticks_while_training, 1)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
