#!/bin/bash
# `mad scores --sweep NAME` scores the runs of the spec recorded last under NAME: a spec edited and run
# again under the same name does not mix its old runs in (they stay in the database and in `mad scores`
# without --sweep), and the report of such a sweep embeds the architecture's drawing. Usage: cli_sweep_versions_test.sh PATH_TO_MAD
set -u
source "$(dirname "$0")/../cli/common.sh" "$1"
spec() {  # spec LR: a one-run sweep named "versions"
  cat <<YAML
name: versions
architectures:
  mlp: {dim: 16, layers: [swiglu]}
settings:
  - {task: in-context-recall, seq_len: 16, vocab_size: 8, num_train_examples: 32, num_test_examples: 16}
lr: [$1]
weight_decay: [0.0]
epochs: 1
batch_size: 16
YAML
}
spec 1.0e-3 >"$tmp/v1.yml"
spec 2.0e-3 >"$tmp/v2.yml"
expect_ok "sweep v1" "$mad" sweep run "$tmp/v1.yml" --db "$tmp/r.db" --quiet --jobs 1
expect_ok "sweep v2" "$mad" sweep run "$tmp/v2.yml" --db "$tmp/r.db" --quiet --jobs 1
runs_of() { "$mad" scores --db "$tmp/r.db" "$@" --format json | /usr/bin/python3 -c \
  'import json, sys; print(next(c["runs"] for c in json.load(sys.stdin) if c["task"] == "in-context-recall"))'; }
[ "$(runs_of --sweep versions)" = 1 ] || fail "--sweep versions counts $(runs_of --sweep versions) runs, expected 1 (v2's)"
[ "$(runs_of)" = 2 ] || fail "without --sweep: $(runs_of) runs, expected both"
expect_ok "scores by setting" "$mad" scores --db "$tmp/r.db" --sweep versions --by-setting --format json
grep -q '"lr": 0.002' "$tmp/out" || fail "--sweep versions does not score v2's run: $(cat "$tmp/out")"
# The report of a real sweep embeds its architecture's drawing, still naming no URL.
expect_ok "report" "$mad" report --db "$tmp/r.db" --sweep versions --out "$tmp/report"
grep -q '<h2 id="architectures">' "$tmp/report/index.html" || fail "the report has no drawing of the architecture"
! grep -q "http://\|https://" "$tmp/report/index.html" || fail "the report names a URL"
finish cli_sweep_versions
