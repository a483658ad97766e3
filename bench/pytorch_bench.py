#!/usr/bin/env python3
"""The `mad bench` workloads written in PyTorch, timed the same way, for a side-by-side comparison.

Same models as madcpp builds them (models/backbone.h, models/layers/*.cpp, configs/layers/*.yml):
token embedding; per layer the pre-norm residual block x = x + layer(rmsnorm(x)); final rmsnorm and a
Linear head with bias. mh-attention: fused qkv Linear (bias), 16 heads of 8, rotary on all 8 channels of a
head (the rotate-half form, base 10000), causal softmax attention, out Linear (bias). swiglu:
w3(silu(w1 x) * w2 x), inner width 352, no bias. A step is zero_grad, forward, cross-entropy over every
position, backward, AdamW step. FLOPs use the same analytic count as bench/step_bench.h.

By default attention materialises the [B, H, L, L] scores as the reference's non-flash path does;
`--attention sdpa` calls F.scaled_dot_product_attention (PyTorch 2.0 or later; 1.13, Debian's python3-torch,
has no fused attention), which on the CPU runs PyTorch's fused flash-attention kernel. Do not set OPENBLAS_CORETYPE=SkylakeX on AVX2-only
machines: OpenBLAS then dies with an illegal instruction.

Usage: pytorch_bench.py [--threads N] [--steps N] [--warmup N] [--attention materialised|sdpa]
                        [--workloads NAME...] [--json]
Each workload runs in its own process so that its peak RSS is its own, with OPENBLAS_NUM_THREADS and
OMP_NUM_THREADS set to --threads unless already set.
"""
import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

WORKLOADS = {}
for name, length in (("icr-128", 127), ("icr-512", 511), ("icr-1024", 1023), ("sc-256", 256)):
    WORKLOADS[name] = (["mh-attention", "swiglu", "mh-attention", "swiglu"], length)
    for layer in ("mh-attention", "swiglu"):
        WORKLOADS[f"{name}/{layer}"] = ([layer], length)

BATCH, DIM, VOCAB, HEADS, SWIGLU_INNER = 128, 128, 16, 16, 352


def step_flops(layers, length):
    """6 * tokens * out * in per Linear; 12 * Dh per head and visible (query, key) pair of causal attention."""
    tokens = BATCH * length
    flops = 6.0 * tokens * DIM * VOCAB  # head
    pairs = length * (length + 1) / 2
    for layer in layers:
        if layer == "mh-attention":
            flops += 6.0 * tokens * (3 * DIM * DIM + DIM * DIM)
            flops += 12.0 * BATCH * DIM * pairs  # heads * head_dim = DIM
        else:
            flops += 6.0 * tokens * 3 * DIM * SWIGLU_INNER
    return flops


def build(layers, length, attention):
    import torch
    from torch import nn
    # RMSNorm and SwiGLU as the reference trainer defines them (SwiGLU's inner width is SWIGLU_INNER at DIM).
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
    from reference_modules import RMSNorm, SwiGLU

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.Wqkv = nn.Linear(DIM, 3 * DIM)
            self.out_proj = nn.Linear(DIM, DIM)
            head_dim = DIM // HEADS
            inv_freq = 1.0 / (10000.0 ** (torch.arange(0, head_dim, 2).float() / head_dim))
            angle = torch.arange(length).float()[:, None] * inv_freq[None, :]  # [L, Dh/2]
            self.register_buffer("cos", angle.cos()[None, None])  # [1, 1, L, Dh/2]
            self.register_buffer("sin", angle.sin()[None, None])
            mask = torch.ones(length, length, dtype=torch.bool).triu(1)
            self.register_buffer("mask", mask)

        def rotary(self, x):  # x [B, H, L, Dh]
            half = x.shape[-1] // 2
            lo, hi = x[..., :half], x[..., half:]
            return torch.cat((lo * self.cos - hi * self.sin, hi * self.cos + lo * self.sin), dim=-1)

        def forward(self, x):
            B, L, D = x.shape
            q, k, v = self.Wqkv(x).view(B, L, 3, HEADS, D // HEADS).permute(2, 0, 3, 1, 4)
            q, k = self.rotary(q), self.rotary(k)
            if attention == "sdpa":
                o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
                return self.out_proj(o.transpose(1, 2).reshape(B, L, D))
            scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(D // HEADS))
            p = scores.masked_fill(self.mask, float("-inf")).softmax(-1)
            o = (p @ v).transpose(1, 2).reshape(B, L, D)
            return self.out_proj(o)

    class Block(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.norm = RMSNorm(DIM)
            self.layer = Attention() if layer == "mh-attention" else SwiGLU(DIM)

        def forward(self, x):
            return x + self.layer(self.norm(x))

    class LanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embeds = nn.Embedding(VOCAB, DIM)
            nn.init.normal_(self.token_embeds.weight, 0.0, 0.02)
            self.model = nn.ModuleList(Block(layer) for layer in layers)
            self.norm = RMSNorm(DIM)
            self.lm_head = nn.Linear(DIM, VOCAB)

        def forward(self, tokens):
            x = self.token_embeds(tokens)
            for block in self.model:
                x = block(x)
            return self.lm_head(self.norm(x))

    return LanguageModel()


def run_one(name, threads, steps, warmup, attention):
    import torch

    if attention == "sdpa" and not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        sys.exit(f"--attention sdpa needs PyTorch 2.0 or later (this is {torch.__version__}); "
                 "use --attention materialised")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    layers, length = WORKLOADS[name]
    model = build(layers, length, attention)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    tokens = torch.randint(0, VOCAB, (BATCH, length))
    targets = torch.randint(0, VOCAB, (BATCH * length,))
    times = []
    for s in range(warmup + steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        logits = model(tokens)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), targets, ignore_index=-100)
        loss.backward()
        optimizer.step()
        if s >= warmup:
            times.append(1e3 * (time.perf_counter() - start))
    ms = statistics.median(times)
    flops = step_flops(layers, length)
    return {
        "workload": name, "implementation": "pytorch", "torch": torch.__version__, "attention": attention,
        "threads": threads,
        "batch": BATCH, "length": length, "steps": steps, "ms_per_step": round(ms, 3),
        "tokens_per_s": round(BATCH * length / (ms * 1e-3), 1), "gflop_per_step": round(flops * 1e-9, 4),
        "gflops_per_s": round(flops / (ms * 1e6), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
    }


def main():
    global BATCH
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=BATCH,
                        help="sequences per step (default 128; L = 1024 needs about 40 GB at 128)")
    parser.add_argument("--workloads", nargs="*", default=[],
                        help="names (icr-128, icr-128/swiglu, ...); NAME* selects by prefix; default all")
    parser.add_argument("--attention", choices=("materialised", "sdpa"), default="materialised",
                        help="materialised [B, H, L, L] scores (the reference's path; default) or "
                             "F.scaled_dot_product_attention (PyTorch >= 2.0)")
    parser.add_argument("--json", action="store_true", help="one JSON object per workload")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    BATCH = args.batch

    def selected(name):
        if not args.workloads:
            return True
        return any(name.startswith(f[:-1]) if f.endswith("*") else name == f for f in args.workloads)

    chosen = [name for name in WORKLOADS if selected(name)]
    if not chosen:
        sys.exit("pytorch_bench.py: --workloads selects nothing; the workloads are: " + " ".join(WORKLOADS))
    if args.child:
        print(json.dumps(run_one(chosen[0], args.threads, args.steps, args.warmup, args.attention)), flush=True)
        return
    if not args.json:
        print(f"pytorch_bench: training steps, float32, {args.attention} attention, {args.threads} thread(s), "
              f"median of {args.steps} steps")
        print(f"{'workload':<22} {'ms/step':>11} {'tokens/s':>11} {'GFLOP/s':>9} {'peak MiB':>10}")
    for name in chosen:
        # One process per workload: its peak RSS is its own.
        cmd = [sys.executable, __file__, "--child", "--workloads", name, "--threads", str(args.threads),
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--batch", str(args.batch),
               "--attention", args.attention]
        # The BLAS gets the same thread count as PyTorch's own pool: OpenBLAS otherwise starts one thread
        # per core, whose spin-waiting on a busy machine made a step 10x slower.
        env = dict(os.environ)
        env.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
        env.setdefault("OMP_NUM_THREADS", str(args.threads))
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if out.returncode != 0:
            reason = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit status {out.returncode}"
            result = {"workload": name, "implementation": "pytorch", "threads": args.threads, "error": reason}
        else:
            result = json.loads(out.stdout.strip().splitlines()[-1])
        if args.json:
            print(json.dumps(result), flush=True)
        elif "error" in result:
            print(f"{name:<22} failed: {result['error']}", flush=True)
        else:
            print(f"{name:<22} {result['ms_per_step']:>11.1f} {result['tokens_per_s']:>11.0f} "
                  f"{result['gflops_per_s']:>9.1f} {result['peak_rss_mb']:>10.0f}", flush=True)


if __name__ == "__main__":
    main()
