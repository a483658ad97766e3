#!/usr/bin/env bash
# Runs `mad bench` and bench/pytorch_bench.py on the same workloads with 1 and 2 threads and prints, per
# workload and thread count, both step times, the speed-up over PyTorch and the ratio of peak memories.
#
# Usage: bench/side_by_side.sh [MAD_EXECUTABLE] [WORKLOAD...]
#   MAD_EXECUTABLE defaults to build/release/apps/mad; workloads default to icr-128 sc-256 icr-512
#   (PyTorch 1.13 materialises [B, H, L, L] attention scores: icr-1024 needs about 40 GB there).
# Environment: STEPS (default 3), THREADS (default "1 2"), BATCH (default 128; e.g. 32 for icr-1024, which
# PyTorch cannot hold at 128), PYTHON (default /usr/bin/python3, which has
# Debian's python3-torch). Never set OPENBLAS_CORETYPE=SkylakeX on an AVX2-only CPU: OpenBLAS crashes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mad="${1:-$here/../build/release/apps/mad}"
shift || true
workloads=("$@")
[[ ${#workloads[@]} -gt 0 ]] || workloads=(icr-128 sc-256 icr-512)
steps="${STEPS:-3}"
batch="${BATCH:-128}"
python="${PYTHON:-/usr/bin/python3}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "side_by_side: $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load: $(cut -d' ' -f1-3 /proc/loadavg)"
for t in ${THREADS:-1 2}; do
  "$mad" bench --json --threads "$t" --steps "$steps" --batch "$batch" --workloads "${workloads[@]}" >> "$out/ours.jsonl"
  "$python" "$here/pytorch_bench.py" --json --threads "$t" --steps "$steps" --batch "$batch" --workloads "${workloads[@]}" >> "$out/torch.jsonl"
done

"$python" - "$out/ours.jsonl" "$out/torch.jsonl" <<'EOF'
import json, sys
ours = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
torch = {(r["workload"], r["threads"]): r for r in (json.loads(l) for l in open(sys.argv[2]) if l.strip())}
print(f"{'workload':<22} {'thr':>3} {'madcpp ms':>10} {'torch ms':>10} {'speed-up':>9} {'madcpp GF/s':>11} "
      f"{'torch GF/s':>10} {'madcpp MiB':>10} {'torch MiB':>10} {'mem ratio':>9}")
for r in ours:
    t = torch.get((r["workload"], r["threads"]), {})
    if "ms_per_step" not in t:
        print(f"{r['workload']:<22} {r['threads']:>3} {r['ms_per_step']:>10.1f} {'failed':>10}  {t.get('error', '')}")
        continue
    print(f"{r['workload']:<22} {r['threads']:>3} {r['ms_per_step']:>10.1f} {t['ms_per_step']:>10.1f} "
          f"{t['ms_per_step'] / r['ms_per_step']:>8.2f}x {r['gflops_per_s']:>11.1f} {t['gflops_per_s']:>10.1f} "
          f"{r['peak_rss_mb']:>10.0f} {t['peak_rss_mb']:>10.0f} {t['peak_rss_mb'] / r['peak_rss_mb']:>8.1f}x")
EOF
