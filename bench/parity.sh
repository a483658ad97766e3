#!/usr/bin/env bash
# Learning-curve parity: trains madcpp (`mad train`) and the PyTorch reference trainer
# (tests/reference/reference_trainer.py) on the same dataset files for several seeds, then prints per epoch
# the mean and standard deviation of test MAD accuracy of each and the largest difference of means in units
# of the pooled standard deviation (bench/parity_report.py). docs/parity.md has the measured tables.
#
# Usage: bench/parity.sh [options] TASK:ARCH...      ARCH: transformer (the MAD transformer) or hyena
#   --mad PATH         the mad binary (default build/release/apps/mad; scripts/build.sh release makes it)
#   --python PATH      Python with torch and numpy for the reference (default /usr/bin/python3)
#   --out DIR          datasets, per-epoch JSON lines and reports (default parity-out)
#   --seeds "S..."     seeds (default "1 2 3"): seed s generates the dataset (mad data generate --seed s),
#                      seeds madcpp's initialisation and shuffles, and torch.manual_seed of the reference
#   --epochs E         cosine schedule length and most epochs (default 100)
#   --stop-after N     stop after epoch N of the E-epoch schedule (default 0: run all E); madcpp runs are
#                      saved after every epoch, so running again with a later N (or none) continues them
#   --lr LR --weight-decay WD   (default 5e-4 and 0)
#   --data "FLAGS"     task-setting flags for mad data generate, e.g. "--num_train_examples 1280"
#   --jobs N           concurrent madcpp runs (default 1), --threads T threads each (default 1)
#   --device DEV       the reference's device: cpu (runs share the madcpp job pool) or cuda (--ref-jobs at a
#                      time, default 1, beside the madcpp runs)
#   --ref-threads T    torch threads of a reference run (default: --threads)
#   --which WHO        both (default), mad or ref: train only one side (the report uses what exists);
#                      data: only write the datasets (so that two instances can then share them)
#   --onset X          the report also gives the first epoch whose test MAD accuracy exceeds X (default 0.9)
#   --mad-seed-offset K  madcpp's initialisation and shuffles from seed s+K instead of s (default 0), so that
#                      they are not drawn from the stream that generated dataset s
#   --ref-args "ARGS"  extra reference_trainer.py arguments, e.g. "--attention explicit"
#   --tag TAG          appended to the run directory's name, to keep variants apart
# Runs whose JSON lines already reach their last epoch (or the early stop) are not repeated.
set -euo pipefail
cd "$(dirname "$0")/.."

mad=build/release/apps/mad python=/usr/bin/python3 out=parity-out seeds="1 2 3" epochs=100 stop_after=0
lr=5e-4 wd=0 data_flags="" jobs=1 gpu_jobs=1 threads=1 device=cpu ref_threads="" which=both onset=0.9
mad_seed_offset=0 ref_args="" tag=""
baselines=()
while (($#)); do
  case "$1" in
    --mad) mad=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --stop-after) stop_after=$2; shift 2 ;;
    --lr) lr=$2; shift 2 ;;
    --weight-decay) wd=$2; shift 2 ;;
    --data) data_flags=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --ref-jobs) gpu_jobs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --ref-threads) ref_threads=$2; shift 2 ;;
    --which) which=$2; shift 2 ;;
    --onset) onset=$2; shift 2 ;;
    --mad-seed-offset) mad_seed_offset=$2; shift 2 ;;
    --ref-args) ref_args=$2; shift 2 ;;
    --tag) tag=-$2; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    -*) echo "parity.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) baselines+=("$1"); shift ;;
  esac
done
((${#baselines[@]})) || { echo "parity.sh: give at least one TASK:ARCH, e.g. memorization:transformer" >&2; exit 2; }
[[ -x $mad ]] || { echo "parity.sh: $mad not found; build it with scripts/build.sh release or pass --mad" >&2; exit 2; }
ref_threads=${ref_threads:-$threads}
mad=$(realpath "$mad")
mkdir -p "$out"
out=$(realpath "$out")
reference="$PWD/tests/reference/reference_trainer.py"
last=$epochs
((stop_after > 0 && stop_after < epochs)) && last=$stop_after

layers_of() {
  case "$1" in
    transformer) echo "mh-attention swiglu mh-attention swiglu" ;;
    hyena) echo "hyena swiglu hyena swiglu" ;;
    *) echo "parity.sh: architecture '$1' is not one of transformer, hyena" >&2; exit 2 ;;
  esac
}

# A run is done when its JSON lines reach the last epoch or stopped early (test MAD accuracy > 0.999).
done_already() {
  [[ -s $1 ]] && "$python" - "$1" "$last" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if lines and (lines[-1]["epoch"] >= int(sys.argv[2]) or lines[-1]["test_acc"] > 0.999) else 1)
EOF
}

mad_jobs=() ref_jobs=() reports=()
for b in "${baselines[@]}"; do
  task=${b%%:*} arch=${b#*:}
  layers=$(layers_of "$arch")
  run_dir="$out/runs/$task-$arch-lr$lr-wd$wd-e$epochs$tag"
  if [[ $which != data ]]; then
    mkdir -p "$run_dir"
    reports+=("$run_dir")
  fi
  for s in $seeds; do
    # One dataset per (task, seed, settings); both trainers read the same files.
    data_tag=$(echo "$task $data_flags" | tr -c 'A-Za-z0-9_.\n-' '_')
    data="$out/data/$data_tag-s$s"
    if [[ ! -f $data/settings.json ]]; then
      # shellcheck disable=SC2086  # data_flags is a list of flags
      "$mad" data generate --task "$task" --seed "$s" $data_flags --out "$data" --force >/dev/null
    fi
    train=(--epochs "$epochs" --stop-after "$stop_after" --lr "$lr" --weight-decay "$wd")
    [[ $which == data ]] && continue
    if [[ $which != ref ]] && ! done_already "$run_dir/mad-s$s.jsonl"; then
      # Saved after every epoch: a run cut off (--stop-after, a timeout, a lost machine) continues where it
      # stopped when parity.sh runs again; without a checkpoint it starts over, and so does its history.
      save="$run_dir/mad-s$s.save" resume=""
      if [[ -f $save/last.ckpt ]]; then resume=--resume; else rm -f "$run_dir/mad-s$s.jsonl"; fi
      mad_jobs+=("$mad train --data-dir $data --layers $layers ${train[*]} --seed $((s + mad_seed_offset)) --threads $threads --quiet --json \
--save $save $resume --log-jsonl $run_dir/mad-s$s.jsonl > $run_dir/mad-s$s.json 2> $run_dir/mad-s$s.log")
    fi
    if [[ $which != mad ]] && ! done_already "$run_dir/ref-s$s.jsonl"; then
      ref_jobs+=("OMP_NUM_THREADS=$ref_threads $python $reference --data-dir $data --layers $layers ${train[*]} \
--seed $s --device $device --threads $ref_threads $ref_args --out $run_dir/ref-s$s.jsonl 2> $run_dir/ref-s$s.log")
    fi
  done
done

run_pool() {  # runs the commands (one per line on stdin) $1 at a time
  xargs -d '\n' -P "$1" -I{} bash -c '{} || echo "parity.sh: failed: {}" >&2'
}
[[ $which == data ]] && exit 0
echo "parity.sh: ${#mad_jobs[@]} madcpp and ${#ref_jobs[@]} reference runs (reference on $device)" >&2
if [[ $device == cpu ]]; then
  { ((${#mad_jobs[@]})) && printf '%s\n' "${mad_jobs[@]}"; ((${#ref_jobs[@]})) && printf '%s\n' "${ref_jobs[@]}"; } \
    | run_pool "$jobs" || true
else
  # The GPU takes one reference run at a time while the CPU cores take the madcpp runs.
  { ((${#ref_jobs[@]})) && printf '%s\n' "${ref_jobs[@]}" | run_pool "$gpu_jobs"; } &
  gpu=$!
  { ((${#mad_jobs[@]})) && printf '%s\n' "${mad_jobs[@]}" | run_pool "$jobs"; } || true
  wait "$gpu" || true
fi

for r in "${reports[@]}"; do
  "$python" bench/parity_report.py --onset "$onset" "$r" | tee "$r/report.md"
done
