#!/usr/bin/python3
"""A PyTorch trainer for the MAD baselines, for learning-curve parity with `mad train` (docs/parity.md).

It trains on a dataset directory written by `mad data generate` (settings.json, train/ and test/ with
inputs.npy and targets.npy), so madcpp and this trainer see the same sequences, and writes one JSON line
per epoch in the format of `mad train --log-jsonl` (training/epoch_log.h: "epoch", "lr", "seconds" and, per
split, "<split>_loss", "_ppl", "_acc" = MAD accuracy, "_token_acc"; "key" is "reference").

Semantics (mad-protocol.md sections 3-6, docs/training.md): the language model (token embedding N(0, 0.02),
x = x + layer(RMSNorm(x)) per layer, RMSNorm, Linear head) or, for compression, the autoencoder; Linear
weights U(+-1/sqrt(fan_in)) in the language model and N(0, 0.02) in the autoencoder, every Linear bias 0;
AdamW (0.9, 0.999), eps 1e-8, weight decay on every parameter; cosine schedule stepped once per epoch with
no warm-up; batches of 128, reshuffled every epoch; cross-entropy with ignore index -100; after every epoch
the whole test set is evaluated, and training stops once the test MAD accuracy exceeds 0.999.

What is not madcpp's: the random streams (torch's generator for initialisation and shuffles, seeded with
--seed), so a seed here and the same seed in madcpp are two independent draws of the same distribution.

Runs on Debian's python3-torch 1.13 (CPU) and on current PyTorch with CUDA (--device cuda).
Usage: reference_trainer.py --data-dir DIR --layers mh-attention swiglu mh-attention swiglu --lr 1e-3
       --epochs 100 --seed 1 [--weight-decay 0] [--device cpu|cuda] [--threads N] [--out FILE.jsonl]
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from reference_modules import Mlp, RMSNorm, SwiGLU, rotate_half  # this directory is on sys.path when run as a script

AUTOENCODER_TASKS = {"compression"}


class Attention(nn.Module):
    """Causal softmax attention, fused qkv with bias, rotary (rotate-half, base 10000) on all head channels."""

    def __init__(self, dim, n_heads, seq_len, fused=True):
        super().__init__()
        self.h, self.dh = n_heads, dim // n_heads
        self.Wqkv = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)
        inv_freq = 1.0 / (10000.0 ** (torch.arange(0, self.dh, 2, dtype=torch.float32) / self.dh))
        emb = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq).repeat(1, 2)  # [L, Dh]
        self.register_buffer("cos", emb.cos()[None, None], persistent=False)  # [1, 1, L, Dh]
        self.register_buffer("sin", emb.sin()[None, None], persistent=False)
        self.fused = fused and hasattr(F, "scaled_dot_product_attention")  # PyTorch >= 2.0

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.Wqkv(x).view(B, T, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)  # [B, H, T, Dh] each
        cos, sin = self.cos[:, :, :T], self.sin[:, :, :T]
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        if self.fused:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.dh)
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
            o = scores.masked_fill(mask, float("-inf")).softmax(-1) @ v
        return self.out_proj(o.transpose(1, 2).reshape(B, T, D))


class Sin(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.freq = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return torch.sin(self.freq * x)


class HyenaFilter(nn.Module):
    """The implicit long filter: positions z(n) (trainable) -> MLP with sin activations -> times exp(-t |delta|)."""

    def __init__(self, channels, seq_len, order=4):
        super().__init__()
        n = torch.arange(seq_len, dtype=torch.float32)
        t = n / max(seq_len - 1, 1)
        w = 2 * math.pi * 1e-4 * n / seq_len
        self.z = nn.Parameter(torch.stack([t, torch.cos(w), -torch.sin(w)], dim=-1))  # [L, 3]
        sin = Sin(order)  # one module, so one frequency vector shared by the three activations
        self.mlp = nn.Sequential(nn.Linear(3, order), sin, nn.Linear(order, order), sin, nn.Linear(order, order), sin,
                                 nn.Linear(order, channels, bias=False))
        delta = torch.linspace(math.log(1e-2) / 1.5, math.log(1e-2) / 0.3, channels).abs()
        self.register_buffer("decay", torch.exp(-t[:, None] * delta[None, :]), persistent=False)  # [L, C]

    def forward(self, T):
        return self.mlp(self.z[:T]) * self.decay[:T]  # [T, C]


class Hyena(nn.Module):
    """Order-2 Hyena, inner 4 * dim: in_proj dim -> 3E/4 tiled 4x, short depthwise causal conv (kernel 3),
    y = out_proj(x0 * (h * (v x1) + b v x1)) with one implicit filter per channel (FFT convolution)."""

    def __init__(self, dim, seq_len, inner_factor=4, groups=4, short_k=3):
        super().__init__()
        self.E, self.groups = dim * inner_factor, groups
        self.in_proj = nn.Linear(dim, 3 * self.E // groups)
        self.short_filter = nn.Conv1d(3 * self.E, 3 * self.E, short_k, groups=3 * self.E, padding=short_k - 1)
        self.bias = nn.Parameter(torch.randn(self.E))
        self.filter = HyenaFilter(self.E, seq_len)
        self.out_proj = nn.Linear(self.E, dim)

    def forward(self, x):
        B, T, _ = x.shape
        u = self.in_proj(x).repeat(1, 1, self.groups)  # [B, T, 3E]: copy g of channel c is channel g*3E/4 + c
        u = self.short_filter(u.transpose(1, 2))[..., :T]  # causal: left padding only, [B, 3E, T]
        x0, x1, v = u.split(self.E, dim=1)
        kv = v * x1
        n = 2 * T  # zero-padded to 2T: a linear, not circular, convolution
        h = self.filter(T).t()  # [E, T]
        y = torch.fft.irfft(torch.fft.rfft(kv.float(), n=n) * torch.fft.rfft(h.float(), n=n), n=n)[..., :T]
        y = (y.to(kv.dtype) + kv * self.bias[:, None]) * x0
        return self.out_proj(y.transpose(1, 2))


EXPLICIT_ATTENTION = False  # --attention explicit: softmax(q k^T / sqrt(d)) v written out, no fused kernel


def make_layer(name, dim, seq_len):
    if name == "mh-attention":
        return Attention(dim, 16, seq_len, not EXPLICIT_ATTENTION)
    if name == "attention":
        return Attention(dim, 1, seq_len, not EXPLICIT_ATTENTION)
    if name == "swiglu":
        return SwiGLU(dim)
    if name == "mlp":
        return Mlp(dim, 512)
    if name == "hyena":
        return Hyena(dim, seq_len)
    sys.exit(f"reference_trainer.py: layer '{name}' is not built here (mh-attention, attention, swiglu, mlp, hyena)")


class Block(nn.Module):
    def __init__(self, layer, dim):
        super().__init__()
        self.norm = RMSNorm(dim)
        self.layer = layer

    def forward(self, x):
        return x + self.layer(self.norm(x))


class LanguageModel(nn.Module):
    def __init__(self, layers, dim, vocab, seq_len):
        super().__init__()
        self.token_embeds = nn.Embedding(vocab, dim)
        self.model = nn.ModuleList(Block(make_layer(n, dim, seq_len), dim) for n in layers)
        self.norm = RMSNorm(dim)
        self.lm_head = nn.Linear(dim, vocab)
        nn.init.normal_(self.token_embeds.weight, 0.0, 0.02)
        for m in self.modules():  # the reference's _init_weights: Linear weights keep their default init
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, tokens):
        x = self.token_embeds(tokens)
        for block in self.model:
            x = block(x)
        return self.lm_head(self.norm(x))


def posemb_sincos_1d(n, dim):
    half = dim // 2
    freq = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
    angles = torch.arange(n, dtype=torch.float32)[:, None] * freq[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class AutoEncoder(nn.Module):
    def __init__(self, layers, dim, vocab, seq_len):
        super().__init__()
        self.token_embeds = nn.Embedding(vocab, dim)
        self.encoder = nn.ModuleList(Block(make_layer(n, dim, seq_len), dim) for n in layers)
        self.decoder = nn.Sequential(RMSNorm(dim), nn.Linear(dim, dim), nn.GELU(), RMSNorm(dim), nn.Linear(dim, dim),
                                     nn.GELU())
        self.unembed = nn.Sequential(RMSNorm(dim), nn.Linear(dim, vocab))
        self.register_buffer("pos", posemb_sincos_1d(seq_len, dim), persistent=False)
        nn.init.normal_(self.token_embeds.weight, 0.0, 0.02)
        for m in self.modules():  # the reference's autoencoder re-initialises every Linear, the layers' too
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, tokens):
        x = self.token_embeds(tokens)
        for block in self.encoder:
            x = block(x)
        T = tokens.shape[1]
        return self.unembed(self.decoder(x[:, -1:] + self.pos[None, :T]))


def mad_accuracy(pred, target):
    """Macro recall over the classes among the labelled targets or predictions (a class only predicted
    counts 0): torchmetrics' MulticlassAccuracy(average='macro', ignore_index=-100) as the reference logs it."""
    keep = target != -100
    pred, target = pred[keep], target[keep]
    if target.numel() == 0:
        return 0.0, 0.0
    classes = torch.unique(torch.cat([pred, target]))
    hits = torch.zeros(classes.numel(), device=target.device)
    support = torch.zeros(classes.numel(), device=target.device)
    ti = torch.searchsorted(classes, target)
    support.index_add_(0, ti, torch.ones_like(ti, dtype=torch.float32))
    hits.index_add_(0, ti, (pred == target).float())
    recall = torch.where(support > 0, hits / support.clamp(min=1), torch.zeros_like(hits))
    return recall.mean().item(), (pred == target).float().mean().item()


class EpochMeans:
    """Batch-size-weighted means of per-batch loss, perplexity, MAD accuracy and token accuracy."""

    def __init__(self):
        self.n, self.sums = 0, {"loss": 0.0, "ppl": 0.0, "acc": 0.0, "token_acc": 0.0}

    def add(self, batch, loss, acc, token_acc):
        self.n += batch
        for k, v in (("loss", loss), ("ppl", math.exp(min(loss, 700.0))), ("acc", acc), ("token_acc", token_acc)):
            self.sums[k] += batch * v

    def result(self):
        return {k: v / max(self.n, 1) for k, v in self.sums.items()}


def load_split(data_dir, split, device):
    inputs = np.load(os.path.join(data_dir, split, "inputs.npy"))
    targets = np.load(os.path.join(data_dir, split, "targets.npy"))
    return torch.from_numpy(inputs.astype(np.int64)).to(device), torch.from_numpy(targets.astype(np.int64)).to(device)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True, help="a directory from 'mad data generate' (with settings.json)")
    parser.add_argument("--layers", nargs="+", required=True)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=200, help="length of the cosine schedule")
    parser.add_argument("--stop-after", type=int, default=0, help="stop after this epoch of the schedule (0: all)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--min-lr", type=float, default=1e-6)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--precision", choices=["f32", "bf16"], default="f32",
                        help="bf16: autocast to bfloat16 as mad-lab trains (CUDA only)")
    parser.add_argument("--attention", choices=["fused", "explicit"], default="fused",
                        help="fused: F.scaled_dot_product_attention where PyTorch has it; explicit: the scores written out")
    parser.add_argument("--out", help="write the JSON lines here (default: stdout)")
    args = parser.parse_args()

    global EXPLICIT_ATTENTION
    EXPLICIT_ATTENTION = args.attention == "explicit"
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    with open(os.path.join(args.data_dir, "settings.json")) as f:
        settings = json.load(f)
    train_x, train_y = load_split(args.data_dir, "train", device)
    test_x, test_y = load_split(args.data_dir, "test", device)
    vocab, seq_len = int(settings["vocab_size"]), train_x.shape[1]
    backbone = AutoEncoder if settings["task"] in AUTOENCODER_TASKS else LanguageModel
    model = backbone(args.layers, args.dim, vocab, seq_len).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=args.weight_decay)
    shuffle = torch.Generator()
    out = open(args.out, "w") if args.out else sys.stdout

    def autocast():
        if args.precision == "bf16":
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        return torch.autocast(device_type=device.type, enabled=False)

    def step_metrics(logits, y):
        loss = F.cross_entropy(logits.float().reshape(-1, vocab), y.reshape(-1), ignore_index=-100)
        return loss, mad_accuracy(logits.argmax(-1), y)

    for epoch in range(min(args.stop_after, args.epochs) if args.stop_after > 0 else args.epochs):
        start = time.time()
        lr = args.min_lr + (args.lr - args.min_lr) * (1 + math.cos(math.pi * epoch / args.epochs)) / 2
        for group in optimizer.param_groups:
            group["lr"] = lr
        model.train()
        train = EpochMeans()
        shuffle.manual_seed(args.seed * 1000003 + epoch)  # a fixed order per (seed, epoch), like madcpp's
        order = torch.randperm(train_x.shape[0], generator=shuffle).to(device)
        for i in range(0, train_x.shape[0], args.batch_size):
            idx = order[i:i + args.batch_size]
            x, y = train_x[idx], train_y[idx]
            with autocast():
                logits = model(x)
            loss, (acc, token_acc) = step_metrics(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            train.add(x.shape[0], loss.item(), acc, token_acc)
        model.eval()
        test = EpochMeans()
        with torch.no_grad():
            for i in range(0, test_x.shape[0], args.batch_size):
                x, y = test_x[i:i + args.batch_size], test_y[i:i + args.batch_size]
                with autocast():
                    logits = model(x)
                loss, (acc, token_acc) = step_metrics(logits, y)
                test.add(x.shape[0], loss.item(), acc, token_acc)
        line = {"key": "reference", "epoch": epoch + 1, "lr": lr, "seconds": time.time() - start}
        for split, sums in (("train", train), ("test", test)):
            line.update({f"{split}_{name}": value for name, value in sums.result().items()})
        print(json.dumps(line, sort_keys=True), file=out, flush=True)
        if not math.isfinite(line["train_loss"]):
            break  # diverged, as madcpp stops
        if line["test_acc"] > 0.999:
            break  # the reference's early stop
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
