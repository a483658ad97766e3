#!/usr/bin/python3
"""Writes the PyTorch parity fixtures for tests/reference/test_pytorch_parity.cpp.

Our own PyTorch implementation of the MAD backbones and layers (mad-protocol.md sections 5 and 6), in
float64, with parameter names matching madcpp's (which follow the reference's state_dict). For each model
it stores the weights, a batch, the logits, the loss, every parameter gradient, and the losses of three
AdamW steps. Run with Debian's python3-torch:  /usr/bin/python3 tests/reference/make_fixtures.py

Fixture format (version 1): b"MADFIX01", a little-endian uint64 header length, a JSON header
{"version": 1, "meta": {...}, "tensors": [{"name", "dtype", "shape", "offset"}]}, then the raw tensors
(float64 or int64, C order) at their byte offsets after the header.
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from reference_modules import Mlp, RMSNorm, SwiGLU, rotate_half  # this directory is on sys.path when run as a script

FORMAT_VERSION = 1
torch.set_default_dtype(torch.float64)


class Attention(nn.Module):
    """Causal softmax attention with rotary embeddings on the first rotary_dim channels of each head."""

    def __init__(self, dim, n_heads, rotary_dim, window=-1, base=10000.0):
        super().__init__()
        self.h, self.dh, self.rd, self.window, self.base = n_heads, dim // n_heads, rotary_dim, window, base
        self.Wqkv = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)

    def rotary(self, x):  # x [B, T, H, Dh]
        T = x.shape[1]
        inv_freq = 1.0 / (self.base ** (torch.arange(0, self.rd, 2, dtype=torch.float64) / self.rd))
        freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
        xr, rest = x[..., : self.rd], x[..., self.rd:]
        return torch.cat((xr * cos + rotate_half(xr) * sin, rest), dim=-1)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.Wqkv(x).split(D, dim=-1)
        q, k, v = (t.reshape(B, T, self.h, self.dh) for t in (q, k, v))
        if self.rd > 0:
            q, k = self.rotary(q), self.rotary(k)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, T, Dh]
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dh)
        i = torch.arange(T)[:, None]
        j = torch.arange(T)[None, :]
        masked = j > i
        if self.window >= 0:
            masked = masked | (j < i - self.window)
        scores = scores.masked_fill(masked, float("-inf"))
        o = scores.softmax(-1) @ v
        return self.out_proj(o.transpose(1, 2).reshape(B, T, D))


def make_layer(spec, dim):
    kind = spec["type"]
    if kind in ("mh-attention", "attention", "sliding-attention", "mh-sliding-attention"):
        return Attention(dim, spec["n_heads"], spec["rotary_emb_dim"], spec.get("window_size", -1))
    if kind == "swiglu":
        return SwiGLU(dim)
    if kind == "mlp":
        return Mlp(dim, spec["dim_inner"])
    raise ValueError(kind)


class LanguageModel(nn.Module):
    def __init__(self, layers, dim, vocab):
        super().__init__()
        self.token_embeds = nn.Embedding(vocab, dim)
        self.model = nn.ModuleList(
            nn.ModuleDict({"norm": RMSNorm(dim), "layer": make_layer(s, dim)}) for s in layers)
        self.unembed = nn.ModuleDict({"norm": RMSNorm(dim), "lm_head": nn.Linear(dim, vocab)})

    def forward(self, tokens):
        x = self.token_embeds(tokens)
        for block in self.model:
            x = x + block["layer"](block["norm"](x))
        return self.unembed["lm_head"](self.unembed["norm"](x))


def posemb_sincos_1d(n, dim):
    # In float32 even in a float64 model, as the reference's posemb_sincos_1d (dtype=torch.float).
    half = dim // 2
    step = math.log(10000) / (half - 1)
    freq = torch.exp(torch.arange(half, dtype=torch.float32) * -step)
    angles = torch.arange(n, dtype=torch.float32)[:, None] * freq[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).to(torch.float64)


class AutoEncoder(nn.Module):
    def __init__(self, layers, dim, vocab):
        super().__init__()
        self.token_embeds = nn.Embedding(vocab, dim)
        self.encoder = nn.ModuleList(nn.Sequential(RMSNorm(dim), make_layer(s, dim)) for s in layers)
        self.decoder = nn.Sequential(RMSNorm(dim), nn.Linear(dim, dim), nn.GELU(), RMSNorm(dim), nn.Linear(dim, dim),
                                     nn.GELU())
        self.unembed = nn.Sequential(RMSNorm(dim), nn.Linear(dim, vocab))

    def forward(self, tokens):
        x = self.token_embeds(tokens)
        for block in self.encoder:
            x = x + block(x)
        T = tokens.shape[1]
        d = x[:, -1:] + posemb_sincos_1d(T, x.shape[-1])[None]
        return self.unembed(self.decoder(d))


def write_fixture(path, meta, tensors):
    header_tensors, blobs, offset = [], [], 0
    for name, t in tensors:
        t = t.detach().contiguous()
        if t.dtype in (torch.int64, torch.int32):
            data, dtype = t.to(torch.int64).numpy().tobytes(), "int64"
        else:
            data, dtype = t.to(torch.float64).numpy().tobytes(), "float64"
        header_tensors.append({"name": name, "dtype": dtype, "shape": list(t.shape), "offset": offset})
        blobs.append(data)
        offset += len(data)
    header = json.dumps({"version": FORMAT_VERSION, "meta": meta, "tensors": header_tensors}, sort_keys=True).encode()
    with open(path, "wb") as f:
        f.write(b"MADFIX01" + struct.pack("<Q", len(header)) + header)
        for b in blobs:
            f.write(b)


def make(name, backbone, layers, dim, vocab, batch, length, seed):
    torch.manual_seed(seed)
    model = (LanguageModel if backbone == "language-model" else AutoEncoder)(layers, dim, vocab)
    with torch.no_grad():  # every parameter random (norm weights and biases too), so every path is exercised
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    tokens = torch.randint(0, vocab, (batch, length))
    targets = torch.randint(0, vocab, (batch, length))
    targets[0, :3] = -100  # ignored positions
    weights = [(n, p.detach().clone()) for n, p in model.named_parameters()]

    logits = model(tokens)
    loss = F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1), ignore_index=-100)
    loss.backward()
    grads = [("grad." + n, p.grad.detach().clone()) for n, p in model.named_parameters()]

    # Three AdamW steps (one parameter group, decay on every parameter, as in mad-protocol.md section 3).
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        step_loss = F.cross_entropy(model(tokens).reshape(-1, vocab), targets.reshape(-1), ignore_index=-100)
        step_loss.backward()
        opt.step()
        losses.append(step_loss.item())

    meta = {"backbone": backbone, "arch": {"dim": dim, "layers": layers}, "vocab_size": vocab, "torch": torch.__version__,
            "adamw": {"lr": 1e-2, "weight_decay": 0.1, "losses": losses}}
    tensors = [("tokens", tokens), ("targets", targets), ("logits", logits), ("loss", loss.reshape(1))]
    write_fixture(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", name + ".madfix"), meta,
                  tensors + weights + grads)
    print(f"{name}: loss {loss.item():.6f}, {sum(p.numel() for p in model.parameters())} parameters")


if __name__ == "__main__":
    layers_lm = [
        {"type": "mh-attention", "n_heads": 4, "rotary_emb_dim": 8},
        {"type": "swiglu"},
        {"type": "sliding-attention", "n_heads": 1, "rotary_emb_dim": 32, "window_size": 3},
        {"type": "mlp", "dim_inner": 48},
    ]
    make("language_model", "language-model", layers_lm, dim=32, vocab=16, batch=3, length=12, seed=1)
    layers_ae = [{"type": "mh-attention", "n_heads": 4, "rotary_emb_dim": 8}, {"type": "swiglu"}]
    make("autoencoder", "autoencoder", layers_ae, dim=32, vocab=16, batch=3, length=10, seed=2)
    sys.exit(0)
