"""PyTorch modules shared by the reference trainer (reference_trainer.py), the fixture generator
(make_fixtures.py) and bench/pytorch_bench.py: the pieces whose definitions are the same in all of them.
Attention differs (the trainer's is float32 with a fused-kernel option, the fixtures' float64 with partial
rotary and windows, the bench's with precomputed rotary tables), so each file keeps its own.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class SwiGLU(nn.Module):
    def __init__(self, dim, multiple_of=16):
        super().__init__()
        inner = multiple_of * ((int(2 * dim * 4 / 3) + multiple_of - 1) // multiple_of)  # 352 at D = 128
        self.w1 = nn.Linear(dim, inner, bias=False)
        self.w2 = nn.Linear(dim, inner, bias=False)
        self.w3 = nn.Linear(inner, dim, bias=False)

    def forward(self, x):
        return self.w3(F.silu(self.w1(x)) * self.w2(x))


class Mlp(nn.Module):
    """GELU (tanh approximation) MLP without biases: fc [inner, dim], proj [dim, inner]."""

    def __init__(self, dim, inner):
        super().__init__()
        self.fc = nn.Linear(dim, inner, bias=False)
        self.proj = nn.Linear(inner, dim, bias=False)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))
