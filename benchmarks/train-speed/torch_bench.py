#!/usr/bin/env python3
"""PyTorch twin of `flashnas bench train`: the same model, batch and training step, timed.

The model is the bench architecture `a f m2 f d f m2 f` of `flashnas bench train`
(src/commands/bench/mod.rs, `bench_arch`): attention (heads of 32, d/64 KV heads, RoPE),
SwiGLU FFN (hidden int(3·d) rounded down to a multiple of 8), Mamba2 (N 16, P 32, expand 2,
conv 4, chunks of 64), DeltaNet (heads of 32, conv 4, chunks of 64), byte vocabulary (256),
no meta tokens, untied LM head, RMSNorm eps 1e-6. Its tensors carry the names and shapes of
docs/OPERATORS.md §10, so the parameter count is flashnas's and a flashnas weight file loads
as is (`--check --flashnas BIN` compares logits on the same weights).

The step is the trainer's (training/src/trainer.rs): a batch of random Tiny Shakespeare
windows, forward, mean cross-entropy (read back to the host), backward, global gradient norm
(read back; clipped to 1.0), AdamW (lr 3e-3, betas 0.9/0.95, eps 1e-8, weight decay 0.1 on
every tensor) at the warmup + cosine learning rate, then the Nemotron-Flash weight
normalization. Tokens/s are steady state: the first step (allocation, and in compile mode
the compilation) is excluded, as flashnas excludes it.

Mamba2 and DeltaNet train in their sequence-parallel chunked forms (chunked SSD, §6.4;
WY/UT delta rule, §7.3). See README.md next to this file for what differs from flashnas.

    python torch_bench.py --widths 64,128,256,512 --steps 12 --batch 16 --seq-len 256 \
        --mode eager,compile
    python torch_bench.py --check [--flashnas /path/to/flashnas]
"""

import argparse
import ast
import json
import math
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

LAYERS = ["a", "f", "m2", "f", "d", "f", "m2", "f"]
VOCAB = 256
# What `flashnas bench train` prints for the bench arch (`d=…, N params`).
FLASHNAS_PARAMS = {64: 266040, 128: 983568, 256: 3774144, 512: 14777376}

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))


# ---------------------------------------------------------------------------------------------
# Architecture sizes (bench_arch → ArchSpec::sized, the kinds' `resolve` defaults)
# ---------------------------------------------------------------------------------------------


class Sizes:
    def __init__(self, d):
        assert d > 0 and d % 64 == 0, "the width must be a positive multiple of 64"
        self.d = d
        # attention: heads of 32, d/64 KV heads, rope_theta 10000, no qk-norm
        self.head_dim = 32
        self.n_heads = max(d // 32, 1)
        self.n_kv_heads = min(d // 64, self.n_heads)
        self.rope_theta = 10000.0
        # ffn: int(ratio · d) // multiple_of · multiple_of
        self.ffn_hidden = int(3.0 * d) // 8 * 8
        # mamba2: N 16, P 32, expand 2, conv 4, one group, chunks of 64, conv bias, no proj bias
        self.m_state = 16
        self.m_head_dim = 32
        self.m_expand = 2
        self.m_conv = 4
        self.m_groups = 1
        self.m_chunk = 64
        self.m_eps = 1e-5
        self.m_inner = self.m_expand * d
        self.m_heads = self.m_inner // self.m_head_dim
        self.m_conv_dim = self.m_inner + 2 * self.m_groups * self.m_state
        self.m_in_proj = 2 * self.m_inner + 2 * self.m_groups * self.m_state + self.m_heads
        # deltanet: heads of 32 (Dk = Dv = 32), conv 4 without bias, chunks of 64, eps 1e-5
        self.dn_heads = max(d // 32, 1)
        self.dn_dk = 32
        self.dn_dv = 32
        self.dn_conv = 4
        self.dn_chunk = 64
        self.dn_eps = 1e-5
        self.rms_eps = 1e-6

    def arch_json(self):
        """The bench arch as Arch JSON (what `bench_arch` resolves to; see its tests)."""
        h, kv = self.n_heads, self.n_kv_heads
        return {
            "vocab_size": VOCAB,
            "d_model": self.d,
            "attention": {"n_heads": h, "n_kv_heads": kv, "head_dim": self.head_dim},
            "mamba2": {"d_state": self.m_state, "head_dim": self.m_head_dim, "chunk_size": 64},
            "deltanet": {"n_heads": self.dn_heads, "chunk_size": 64},
            "ffn": {"ratio": 3.0, "multiple_of": 8},
            "layers": ["attention" if k == "a" else "mamba2" if k == "m2" else
                       "deltanet" if k == "d" else "ffn" for k in LAYERS],
        }


def flashnas_tensor_shapes(s):
    """The §10 tensor list of the bench arch (lm.rs `tensors`), name → shape."""
    d = s.d
    out = {"model.embed_tokens.weight": (VOCAB, d)}
    for i, kind in enumerate(LAYERS):
        norm = "pre_ffn_layernorm" if kind == "f" else "input_layernorm"
        out[f"model.layers.{i}.{norm}.weight"] = (d,)
        if kind == "a":
            p = f"model.layers.{i}.self_attn"
            hd, kvd = s.n_heads * s.head_dim, s.n_kv_heads * s.head_dim
            out[f"{p}.q_proj.weight"] = (hd, d)
            out[f"{p}.k_proj.weight"] = (kvd, d)
            out[f"{p}.v_proj.weight"] = (kvd, d)
            out[f"{p}.o_proj.weight"] = (d, hd)
        elif kind == "f":
            p = f"model.layers.{i}.ffn"
            out[f"{p}.gate_proj.weight"] = (s.ffn_hidden, d)
            out[f"{p}.up_proj.weight"] = (s.ffn_hidden, d)
            out[f"{p}.down_proj.weight"] = (d, s.ffn_hidden)
        elif kind == "m2":
            p = f"model.layers.{i}.mamba"
            out[f"{p}.in_proj.weight"] = (s.m_in_proj, d)
            out[f"{p}.conv1d.weight"] = (s.m_conv_dim, 1, s.m_conv)
            out[f"{p}.conv1d.bias"] = (s.m_conv_dim,)
            out[f"{p}.dt_bias"] = (s.m_heads,)
            out[f"{p}.A_log"] = (s.m_heads,)
            out[f"{p}.D"] = (s.m_heads,)
            out[f"{p}.norm.weight"] = (s.m_inner,)
            out[f"{p}.out_proj.weight"] = (d, s.m_inner)
        elif kind == "d":
            p = f"model.layers.{i}.gla"
            hk, hv = s.dn_heads * s.dn_dk, s.dn_heads * s.dn_dv
            out[f"{p}.q_proj.weight"] = (hk, d)
            out[f"{p}.k_proj.weight"] = (hk, d)
            out[f"{p}.v_proj.weight"] = (hv, d)
            out[f"{p}.b_proj.weight"] = (s.dn_heads, d)
            out[f"{p}.q_conv1d.weight"] = (hk, 1, s.dn_conv)
            out[f"{p}.k_conv1d.weight"] = (hk, 1, s.dn_conv)
            out[f"{p}.v_conv1d.weight"] = (hv, 1, s.dn_conv)
            out[f"{p}.o_norm.weight"] = (s.dn_dv,)
            out[f"{p}.o_proj.weight"] = (d, hv)
    out["model.final_layernorm.weight"] = (d,)
    out["lm_head.weight"] = (VOCAB, d)
    return out


def flashnas_param_count(s):
    return sum(math.prod(shape) for shape in flashnas_tensor_shapes(s).values())


# ---------------------------------------------------------------------------------------------
# Primitives (docs/OPERATORS.md §3)
# ---------------------------------------------------------------------------------------------


def rms_norm(x, w, eps):
    """§3.1: x · rsqrt(mean(x²) + eps) ⊙ w over the last axis."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def l2_normalize(x, scale=1.0):
    """§3.3 (fla l2norm): scale · x / sqrt(Σx² + 1e-6) over the last axis."""
    return x * (torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + 1e-6) * scale)


def causal_conv_silu(x, conv):
    """§3.2: depthwise causal conv (PyTorch layout [C, 1, K], tap K−1 on the current input)
    + SiLU of x: [B, T, C], from a zero state."""
    t = x.shape[1]
    k = conv.weight.shape[-1]
    y = F.conv1d(x.transpose(1, 2), conv.weight, conv.bias, padding=k - 1, groups=x.shape[2])
    return F.silu(y[..., :t]).transpose(1, 2)


def rope_tables(t, head_dim, theta):
    """§3.4: cos / sin [T, D] for positions 0..T, f32, HF rotate-half layout."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    ang = torch.arange(t, dtype=torch.float32)[:, None] * inv_freq[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return ang.cos(), ang.sin()


def apply_rope(x, cos, sin):
    """x: [B, T, H, D]; tables [T, D]."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos[None, :, None, :] + rotated * sin[None, :, None, :]


# ---------------------------------------------------------------------------------------------
# The scans: chunked (training) forms and naive recurrent references
# ---------------------------------------------------------------------------------------------


def _pad_time(x, tp):
    t = x.shape[1]
    if t == tp:
        return x
    pad = [0, 0] * (x.dim() - 2) + [0, tp - t]
    return F.pad(x, pad)


def ssd_chunked(x, dt, a, b, c, q):
    """§6.4: chunked SSD from a zero state (no D skip).
    x: [B,T,H,P], dt: [B,T,H] (after softplus), a: [H] (= −exp(A_log)), b, c: [B,T,G,N].
    Returns y: [B,T,H,P]."""
    bsz, t, h, p = x.shape
    g, n = b.shape[2], b.shape[3]
    if g != h:  # head h reads group ⌊h / (H/G)⌋
        b = b.repeat_interleave(h // g, dim=2)
        c = c.repeat_interleave(h // g, dim=2)
    q = min(q, max(t, 1))
    nc = -(-t // q)
    tp = nc * q
    # Padding with dt = 0: decay 1, input 0, the state passes through.
    xbar = _pad_time(x * dt[..., None], tp)
    adt = _pad_time(dt * a, tp)
    b = _pad_time(b, tp)
    c = _pad_time(c, tp)
    xbar = xbar.reshape(bsz, nc, q, h, p).permute(0, 3, 1, 2, 4)  # [B,H,nc,Q,P]
    b = b.reshape(bsz, nc, q, h, n).permute(0, 3, 1, 2, 4)  # [B,H,nc,Q,N]
    c = c.reshape(bsz, nc, q, h, n).permute(0, 3, 1, 2, 4)
    lam = adt.reshape(bsz, nc, q, h).permute(0, 3, 1, 2).cumsum(-1)  # Λ, inclusive [B,H,nc,Q]
    # Intra-chunk: Y_diag[l] = Σ_{s≤l} (C_l·B_s) exp(Λ_l − Λ_s) x̄_s, masked before exp.
    causal = torch.ones(q, q, dtype=torch.bool, device=x.device).tril()
    seg = (lam[..., :, None] - lam[..., None, :]).masked_fill(~causal, float("-inf"))
    y_diag = ((c @ b.transpose(-1, -2)) * seg.exp()) @ xbar  # [B,H,nc,Q,P]
    # Each chunk's contribution to the state at its end, and its decay.
    lam_last = lam[..., -1:]  # [B,H,nc,1]
    s_chunk = (xbar * (lam_last - lam).exp()[..., None]).transpose(-1, -2) @ b  # [B,H,nc,P,N]
    chunk_decay = lam_last.exp()[..., None]  # [B,H,nc,1,1]
    # Sequential carry over the chunks.
    state = x.new_zeros(bsz, h, p, n)
    entering = []
    for ci in range(nc):
        entering.append(state)
        state = state * chunk_decay[:, :, ci] + s_chunk[:, :, ci]
    h_in = torch.stack(entering, dim=2)  # [B,H,nc,P,N]
    # Inter-chunk: Y_off[l] = exp(Λ_l) · h_in C_l.
    y_off = (c @ h_in.transpose(-1, -2)) * lam.exp()[..., None]  # [B,H,nc,Q,P]
    y = (y_diag + y_off).permute(0, 2, 3, 1, 4).reshape(bsz, tp, h, p)
    return y[:, :t]


def ssd_recurrent(x, dt, a, b, c):
    """§6.3, token by token (the reference): h_t = exp(dt_t A) h_{t−1} + dt_t x_t B_tᵀ,
    y_t = h_t C_t."""
    bsz, t, h, p = x.shape
    g, n = b.shape[2], b.shape[3]
    if g != h:
        b = b.repeat_interleave(h // g, dim=2)
        c = c.repeat_interleave(h // g, dim=2)
    state = x.new_zeros(bsz, h, p, n)
    ys = []
    for i in range(t):
        da = (dt[:, i] * a).exp()[..., None, None]
        state = state * da + (dt[:, i, :, None] * x[:, i])[..., None] * b[:, i, :, None, :]
        ys.append((state @ c[:, i, :, :, None])[..., 0])
    return torch.stack(ys, dim=1)


def delta_rule_chunked(q, k, v, beta, chunk):
    """§7.3: chunked (WY/UT) delta rule from a zero state.
    q, k: [B,T,H,Dk] (normalized, q scaled), v: [B,T,H,Dv], beta: [B,T,H] → o: [B,T,H,Dv]."""
    bsz, t, h, dk = q.shape
    dv = v.shape[-1]
    cs = min(chunk, max(t, 1))
    nc = -(-t // cs)
    tp = nc * cs

    # Pad with k = 0, β = 0: the state passes through padded steps unchanged.
    def chunks(x):
        x = _pad_time(x, tp)
        return x.reshape(bsz, nc, cs, h, -1).permute(0, 3, 1, 2, 4)  # [B,H,nc,C,·]

    q, k, v = chunks(q), chunks(k), chunks(v)
    beta = chunks(beta[..., None])  # [B,H,nc,C,1]
    strict = torch.ones(cs, cs, dtype=torch.bool, device=q.device).tril(-1)
    incl = torch.ones(cs, cs, dtype=torch.bool, device=q.device).tril()
    kb = k * beta
    # A = strict_lower(diag(β) K Kᵀ), T = (I + A)⁻¹ (unit lower-triangular).
    a = (kb @ k.transpose(-1, -2)).masked_fill(~strict, 0.0)
    eye = torch.eye(cs, dtype=q.dtype, device=q.device)
    tmat = torch.linalg.solve_triangular(a + eye, eye.expand_as(a), upper=False,
                                         unitriangular=True)
    w = tmat @ kb  # T diag(β) K   [B,H,nc,C,Dk]
    u = tmat @ (v * beta)  # T diag(β) V   [B,H,nc,C,Dv]
    qk = (q @ k.transpose(-1, -2)).masked_fill(~incl, 0.0)  # lower_incl(Q Kᵀ)
    state = q.new_zeros(bsz, h, dk, dv)
    outs = []
    for ci in range(nc):
        u_c = u[:, :, ci] - w[:, :, ci] @ state  # U' = U − W S
        outs.append(q[:, :, ci] @ state + qk[:, :, ci] @ u_c)
        state = state + k[:, :, ci].transpose(-1, -2) @ u_c
    o = torch.stack(outs, dim=2)  # [B,H,nc,C,Dv]
    return o.permute(0, 2, 3, 1, 4).reshape(bsz, tp, h, dv)[:, :t]


def delta_rule_recurrent(q, k, v, beta):
    """§7.2, token by token (the reference): u = β(v − Sᵀk), S += k uᵀ, o = Sᵀq."""
    bsz, t, h, dk = q.shape
    dv = v.shape[-1]
    state = q.new_zeros(bsz, h, dk, dv)
    outs = []
    for i in range(t):
        ki = k[:, i]
        pred = (state * ki[..., None]).sum(-2)  # Sᵀk  [B,H,Dv]
        u = beta[:, i, :, None] * (v[:, i] - pred)
        state = state + ki[..., None] * u[..., None, :]
        outs.append((state * q[:, i, :, :, None]).sum(-2))
    return torch.stack(outs, dim=1)


# ---------------------------------------------------------------------------------------------
# The model (§2, §4–§7), tensors named as §10
# ---------------------------------------------------------------------------------------------


class Weight(nn.Module):
    """A bare weight (norms, embeddings), so that the state-dict key ends in `.weight`."""

    def __init__(self, *shape):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(*shape))


def linear(out_dim, in_dim):
    return nn.Linear(in_dim, out_dim, bias=False)


class Attention(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.h, self.hkv, self.dh = s.n_heads, s.n_kv_heads, s.head_dim
        self.q_proj = linear(self.h * self.dh, s.d)
        self.k_proj = linear(self.hkv * self.dh, s.d)
        self.v_proj = linear(self.hkv * self.dh, s.d)
        self.o_proj = linear(s.d, self.h * self.dh)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = apply_rope(self.q_proj(x).view(b, t, self.h, self.dh), cos, sin)
        k = apply_rope(self.k_proj(x).view(b, t, self.hkv, self.dh), cos, sin)
        v = self.v_proj(x).view(b, t, self.hkv, self.dh)
        # Query head h reads KV head ⌊h / (H/Hkv)⌋ (enable_gqa), scale 1/sqrt(Dh).
        o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                           v.transpose(1, 2), is_causal=True,
                                           enable_gqa=self.hkv != self.h)
        return self.o_proj(o.transpose(1, 2).reshape(b, t, self.h * self.dh))


class Ffn(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.gate_proj = linear(s.ffn_hidden, s.d)
        self.up_proj = linear(s.ffn_hidden, s.d)
        self.down_proj = linear(s.d, s.ffn_hidden)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Mamba2(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        self.in_proj = linear(s.m_in_proj, s.d)
        self.conv1d = nn.Conv1d(s.m_conv_dim, s.m_conv_dim, s.m_conv, groups=s.m_conv_dim,
                                bias=True)
        self.dt_bias = nn.Parameter(torch.empty(s.m_heads))
        self.A_log = nn.Parameter(torch.empty(s.m_heads))
        self.D = nn.Parameter(torch.empty(s.m_heads))
        self.norm = Weight(s.m_inner)
        self.out_proj = linear(s.d, s.m_inner)

    def forward(self, u, scan=ssd_chunked):
        s = self.s
        b, t, _ = u.shape
        di, h, p, g, n = s.m_inner, s.m_heads, s.m_head_dim, s.m_groups, s.m_state
        z, xbc, dt = self.in_proj(u).split([di, s.m_conv_dim, h], dim=-1)
        xbc = causal_conv_silu(xbc, self.conv1d)
        x, bm, cm = xbc.split([di, g * n, g * n], dim=-1)
        x = x.reshape(b, t, h, p)
        dt = F.softplus(dt + self.dt_bias)
        a = -self.A_log.exp()
        if scan is ssd_chunked:
            y = ssd_chunked(x, dt, a, bm.reshape(b, t, g, n), cm.reshape(b, t, g, n), s.m_chunk)
        else:
            y = scan(x, dt, a, bm.reshape(b, t, g, n), cm.reshape(b, t, g, n))
        y = y + x * self.D[:, None]
        # Gated RMSNorm, gate first (norm_before_gate=False), one group of Di.
        y = y.reshape(b, t, di) * F.silu(z)
        if g == 1:
            y = rms_norm(y, self.norm.weight, s.m_eps)
        else:
            y = rms_norm(y.reshape(b, t, g, di // g), 1.0, s.m_eps).reshape(b, t, di) \
                * self.norm.weight
        return self.out_proj(y)


class DeltaNet(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s
        hk, hv = s.dn_heads * s.dn_dk, s.dn_heads * s.dn_dv
        self.q_proj = linear(hk, s.d)
        self.k_proj = linear(hk, s.d)
        self.v_proj = linear(hv, s.d)
        self.b_proj = linear(s.dn_heads, s.d)
        self.q_conv1d = nn.Conv1d(hk, hk, s.dn_conv, groups=hk, bias=False)
        self.k_conv1d = nn.Conv1d(hk, hk, s.dn_conv, groups=hk, bias=False)
        self.v_conv1d = nn.Conv1d(hv, hv, s.dn_conv, groups=hv, bias=False)
        self.o_norm = Weight(s.dn_dv)
        self.o_proj = linear(s.d, hv)

    def forward(self, x, scan=None):
        s = self.s
        b, t, _ = x.shape
        h, dk, dv = s.dn_heads, s.dn_dk, s.dn_dv
        q = causal_conv_silu(self.q_proj(x), self.q_conv1d).reshape(b, t, h, dk)
        k = causal_conv_silu(self.k_proj(x), self.k_conv1d).reshape(b, t, h, dk)
        v = causal_conv_silu(self.v_proj(x), self.v_conv1d).reshape(b, t, h, dv)
        q = l2_normalize(q, dk ** -0.5)
        k = l2_normalize(k)
        beta = torch.sigmoid(self.b_proj(x))
        if scan is None:
            o = delta_rule_chunked(q, k, v, beta, s.dn_chunk)
        else:
            o = scan(q, k, v, beta)
        o = rms_norm(o, self.o_norm.weight, s.dn_eps)  # per head over Dv
        return self.o_proj(o.reshape(b, t, h * dv))


class Layer(nn.Module):
    """`h ← h + op(RMSNorm(h; norm))`, with the norm and the operator under their §10 names."""

    def __init__(self, kind, s):
        super().__init__()
        self.kind = kind
        norm = Weight(s.d)
        if kind == "f":
            self.pre_ffn_layernorm = norm
            self.ffn = Ffn(s)
        else:
            self.input_layernorm = norm
            if kind == "a":
                self.self_attn = Attention(s)
            elif kind == "m2":
                self.mamba = Mamba2(s)
            elif kind == "d":
                self.gla = DeltaNet(s)
            else:
                raise ValueError(kind)


class Body(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.embed_tokens = Weight(VOCAB, s.d)
        self.layers = nn.ModuleList([Layer(k, s) for k in LAYERS])
        self.final_layernorm = Weight(s.d)


class HybridLm(nn.Module):
    def __init__(self, s, max_len):
        super().__init__()
        self.s = s
        self.model = Body(s)
        self.lm_head = linear(VOCAB, s.d)
        cos, sin = rope_tables(max_len, s.head_dim, s.rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, tokens, scans=None):
        """Logits [B, T, V] of tokens [B, T]. `scans`: (ssd, delta) reference scans (tests)."""
        t = tokens.shape[1]
        eps = self.s.rms_eps
        cos, sin = self.rope_cos[:t], self.rope_sin[:t]
        h = F.embedding(tokens, self.model.embed_tokens.weight)
        for layer in self.model.layers:
            if layer.kind == "f":
                h = h + layer.ffn(rms_norm(h, layer.pre_ffn_layernorm.weight, eps))
                continue
            u = rms_norm(h, layer.input_layernorm.weight, eps)
            if layer.kind == "a":
                h = h + layer.self_attn(u, cos, sin)
            elif layer.kind == "m2":
                h = h + (layer.mamba(u) if scans is None else layer.mamba(u, scans[0]))
            else:
                h = h + (layer.gla(u) if scans is None else layer.gla(u, scans[1]))
        h = rms_norm(h, self.model.final_layernorm.weight, eps)
        return self.lm_head(h)


def init_weights(model, seed):
    """§9 distributions (not flashnas's ChaCha streams: the same laws, other draws)."""
    g = torch.Generator().manual_seed(seed)
    s = model.s
    xavier_gain = 2.0 ** -2.5
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.split(".")[-1]
            parent = name.split(".")[-2] if "." in name else ""
            if name.endswith("layernorm.weight") or parent in ("norm", "o_norm") or leaf == "D":
                p.fill_(1.0)
            elif ".gla." in name and parent.endswith("conv1d"):
                bound = 1.0 / math.sqrt(s.dn_conv)  # PyTorch Conv1d default, fan_in = K
                p.uniform_(-bound, bound, generator=g)
            elif ".gla." in name:  # DeltaNet linears: xavier_uniform, gain 2^−2.5
                out_dim, in_dim = p.shape
                bound = xavier_gain * math.sqrt(6.0 / (in_dim + out_dim))
                p.uniform_(-bound, bound, generator=g)
            elif leaf == "bias":  # Mamba2 conv1d.bias
                p.zero_()
            elif leaf == "A_log":
                p.uniform_(1.0, 16.0, generator=g).clamp_(min=1e-4).log_()
            elif leaf == "dt_bias":
                log_dt = torch.empty_like(p).uniform_(math.log(1e-3), math.log(1e-1),
                                                      generator=g)
                dt = log_dt.exp().clamp(min=1e-4)
                p.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus⁻¹
            else:  # embedding, LM head, attention, FFN, Mamba2 in/out_proj and conv1d
                p.normal_(0.0, 0.02, generator=g)


# ---------------------------------------------------------------------------------------------
# Weight normalization (training/src/weight_norm.rs), AdamW, schedule
# ---------------------------------------------------------------------------------------------

READS_RESIDUAL = {"q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", "in_proj", "b_proj",
                  "a_proj", "g_proj"}
WRITES_RESIDUAL = {"o_proj", "down_proj", "out_proj"}


def weight_norm_groups(model):
    """(matrices whose [out, in] rows get unit norm, those whose columns do)."""
    rows, cols = [], []
    for name, p in model.named_parameters():
        parts = name.split(".")
        if p.dim() != 2 or len(parts) < 2 or parts[-1] != "weight":
            continue
        if parts[-2] in READS_RESIDUAL:
            rows.append(p)
        elif parts[-2] in WRITES_RESIDUAL:
            cols.append(p)
    return rows, cols


@torch.no_grad()
def normalize_weights(rows, cols):
    for p in rows:
        p.div_(p.norm(dim=1, keepdim=True).clamp_min(1e-12))
    for p in cols:
        p.div_(p.norm(dim=0, keepdim=True).clamp_min(1e-12))


def lr_at(step, total, warmup, lr, min_lr_ratio):
    """training/src/schedule.rs: linear warmup, then cosine to min_lr_ratio · lr."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    decay_steps = max(total - warmup, 1)
    progress = min((step - min(warmup, step)) / decay_steps, 1.0)
    min_lr = lr * min_lr_ratio
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def round_half_away(x):
    return int(math.floor(x + 0.5))


# The trainer's defaults (training/src/config.rs).
LR, MIN_LR_RATIO, WARMUP_FRACTION = 3e-3, 0.1, 0.1
BETAS, EPS, WEIGHT_DECAY, GRAD_CLIP, MAX_LOSS = (0.9, 0.95), 1e-8, 0.1, 1.0, 50.0


def make_optimizer(params):
    kw = dict(lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)
    try:
        return torch.optim.AdamW(params, fused=True, **kw), "fused"
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(params, foreach=True, **kw), "foreach"


# ---------------------------------------------------------------------------------------------
# Data (training/src/data.rs: byte tokens, last 10 % held out, random training windows)
# ---------------------------------------------------------------------------------------------


def find_corpus():
    for p in (os.path.join(REPO, "data", "tinyshakespeare.txt"),
              os.path.join(REPO, "..", "shared", "data", "tinyshakespeare.txt")):
        if os.path.exists(p):
            return p
    sys.exit("tinyshakespeare.txt not found under data/ or ../shared/data/")


def load_train_tokens(device):
    with open(find_corpus(), "rb") as f:
        raw = f.read()
    n = len(raw)
    n_val = round_half_away(n * 0.1)
    return torch.frombuffer(bytearray(raw[: n - n_val]), dtype=torch.uint8).to(device).long()


class Batches:
    def __init__(self, train, batch, seq_len, seed):
        self.train, self.batch, self.t = train, batch, seq_len
        self.g = torch.Generator().manual_seed(seed ^ 0xBA7C)
        self.offsets = torch.arange(seq_len + 1, device=train.device)

    def next(self):
        starts = torch.randint(0, len(self.train) - self.t, (self.batch,), generator=self.g)
        w = self.train[starts.to(self.train.device)[:, None] + self.offsets]
        return w[:, :-1], w[:, 1:]


# ---------------------------------------------------------------------------------------------
# The training step and the timed run
# ---------------------------------------------------------------------------------------------


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def have_total_norm_api():
    return hasattr(torch.nn.utils, "get_total_norm") and hasattr(torch.nn.utils,
                                                                 "clip_grads_with_norm_")


def run_steps(model, next_batch, total, mode, device, compile_mode=None, verbose=False,
              log=print):
    """The trainer's loop (training/src/trainer.rs `Loop::run`) over `total` steps of a
    schedule of `total` steps: returns (seconds per step, losses)."""
    params = list(model.parameters())
    rows, cols = weight_norm_groups(model)
    opt, opt_kind = make_optimizer(params)

    def loss_fn(x, y):
        logits = model(x)
        return F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))

    if mode == "compile":
        torch._dynamo.reset()
        step_loss = torch.compile(loss_fn, mode=compile_mode)
    elif mode == "eager":
        step_loss = loss_fn
    else:
        raise ValueError(f"unknown mode {mode!r} (eager, compile)")

    warmup = min(round_half_away(WARMUP_FRACTION * total), total)
    grads_api = have_total_norm_api()
    times, losses = [], []
    sync(device)
    last = time.perf_counter()
    for step in range(total):
        x, y = next_batch()
        loss = step_loss(x, y)
        loss_value = loss.item()  # the trainer reads the loss back every step
        if not math.isfinite(loss_value) or loss_value > MAX_LOSS:
            raise RuntimeError(f"diverged at step {step}: loss {loss_value}")
        losses.append(loss_value)
        loss.backward()
        grads = [p.grad for p in params if p.grad is not None]
        if grads_api:
            norm_t = torch.nn.utils.get_total_norm(grads, foreach=True)
            norm = norm_t.item()  # read back, as the trainer does
            if math.isfinite(norm) and norm > GRAD_CLIP:
                torch.nn.utils.clip_grads_with_norm_(params, GRAD_CLIP, norm_t, foreach=True)
        else:
            norm = torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP, foreach=True).item()
        if not math.isfinite(norm):
            raise RuntimeError(f"diverged at step {step}: gradient norm {norm}")
        lr = lr_at(step, total, warmup, LR, MIN_LR_RATIO)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        opt.zero_grad(set_to_none=True)
        normalize_weights(rows, cols)
        sync(device)
        now = time.perf_counter()
        times.append(now - last)
        last = now
        if verbose:
            log(f"  step {step + 1}/{total}: loss {loss_value:.4f}, |g| {norm:.3f}, "
                f"lr {lr:.2e}, {times[-1] * 1e3:.1f} ms")
    return times, losses, opt_kind


def train_run(width, mode, args, device):
    """Trains `args.steps` steps of a fresh model as flashnas's trainer does; the figures."""
    torch.manual_seed(args.seed)
    s = Sizes(width)
    model = HybridLm(s, args.seq_len).to(device)
    init_weights(model, args.seed)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    data = Batches(args.train_tokens, args.batch, args.seq_len, args.seed)
    times, losses, opt_kind = run_steps(model, data.next, args.steps, mode, device,
                                        args.compile_mode, args.verbose)
    steady = sum(times[1:]) / max(len(times) - 1, 1)
    tokens = args.batch * args.seq_len
    return {
        "width": width,
        "mode": mode,
        "params": n_params,
        "flashnas_params": flashnas_param_count(s),
        "optimizer": f"AdamW ({opt_kind})",
        "steps": args.steps,
        "batch": args.batch,
        "seq_len": args.seq_len,
        "first_step_ms": times[0] * 1e3,
        "ms_per_step": steady * 1e3,
        "tokens_per_s": tokens / steady,
        "losses": losses,
        "peak_rss_mib": peak_rss_mib(),
    }


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def header(args, device):
    threads = torch.get_num_threads()
    omp = os.environ.get("OMP_WAIT_POLICY")
    print(f"torch {torch.__version__} | device {device} | cpu capability "
          f"{torch.backends.cpu.get_cpu_capability()} | {threads} threads "
          f"(interop {torch.get_num_interop_threads()}"
          f"{', OMP_WAIT_POLICY=' + omp if omp else ''}) | "
          f"RSS after import {args.rss_base:.0f} MiB")


def bench(args, device):
    header(args, device)
    rows = []
    for width in args.widths:
        for mode in args.modes:
            r = train_run(width, mode, args, device)
            rows.append(r)
            arch = " ".join(LAYERS)
            flag = "" if r["params"] == r["flashnas_params"] else "  (MISMATCH)"
            print(f"torch {mode} | arch {arch} (d={width}, {r['params']} params; flashnas "
                  f"{r['flashnas_params']}){flag} | T={args.seq_len} batch {args.batch}")
            print(f"fwd+bwd+AdamW+weight-norm: {r['tokens_per_s']:.0f} tokens/s steady "
                  f"({r['ms_per_step']:.1f} ms/step; first step {r['first_step_ms']:.0f} ms) | "
                  f"{r['optimizer']} | loss {r['losses'][0]:.3f} → {r['losses'][-1]:.3f} | "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB (process so far)", flush=True)
    print()
    print(f"{'width':>6} {'mode':>8} {'params':>10} {'ms/step':>10} {'tokens/s':>10}")
    for r in rows:
        print(f"{r['width']:>6} {r['mode']:>8} {r['params']:>10} {r['ms_per_step']:>10.1f} "
              f"{r['tokens_per_s']:>10.0f}")
    if args.json:
        out = {
            "torch": torch.__version__,
            "device": str(device),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads(),
            "rss_after_import_mib": args.rss_base,
            "rows": rows,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


# ---------------------------------------------------------------------------------------------
# --check
# ---------------------------------------------------------------------------------------------


def check_scans():
    """Chunked forms against the naive recurrences, float64, values and gradients."""
    g = torch.Generator().manual_seed(1)
    dd = torch.float64

    def rnd(*shape):
        return torch.randn(*shape, generator=g, dtype=dd)

    worst = {}
    for (bsz, t, h, p, grp, n, q) in [(2, 37, 3, 4, 1, 5, 8), (1, 5, 4, 3, 2, 6, 8),
                                      (2, 64, 2, 4, 2, 3, 16)]:
        x = rnd(bsz, t, h, p).requires_grad_()
        dt = F.softplus(rnd(bsz, t, h)).detach().requires_grad_()
        a = (-torch.rand(h, generator=g, dtype=dd) * 2).requires_grad_()
        b = rnd(bsz, t, grp, n).requires_grad_()
        c = rnd(bsz, t, grp, n).requires_grad_()
        ins = [x, dt, a, b, c]
        cot = rnd(bsz, t, h, p)
        y1 = ssd_chunked(x, dt, a, b, c, q)
        y2 = ssd_recurrent(x, dt, a, b, c)
        g1 = torch.autograd.grad((y1 * cot).sum(), ins)
        g2 = torch.autograd.grad((y2 * cot).sum(), ins)
        err = max([(y1 - y2).abs().max().item()] +
                  [(u - v).abs().max().item() for u, v in zip(g1, g2)])
        worst["ssd"] = max(worst.get("ssd", 0.0), err)
    for (bsz, t, h, dk, dv, cs) in [(2, 37, 2, 6, 5, 8), (1, 5, 3, 4, 4, 8),
                                    (2, 64, 2, 8, 3, 16)]:
        q = l2_normalize(rnd(bsz, t, h, dk), dk ** -0.5).detach().requires_grad_()
        k = l2_normalize(rnd(bsz, t, h, dk)).detach().requires_grad_()
        v = rnd(bsz, t, h, dv).requires_grad_()
        beta = torch.sigmoid(rnd(bsz, t, h)).detach().requires_grad_()
        ins = [q, k, v, beta]
        cot = rnd(bsz, t, h, dv)
        o1 = delta_rule_chunked(q, k, v, beta, cs)
        o2 = delta_rule_recurrent(q, k, v, beta)
        g1 = torch.autograd.grad((o1 * cot).sum(), ins)
        g2 = torch.autograd.grad((o2 * cot).sum(), ins)
        err = max([(o1 - o2).abs().max().item()] +
                  [(u - v).abs().max().item() for u, v in zip(g1, g2)])
        worst["delta"] = max(worst.get("delta", 0.0), err)
    for name, err in worst.items():
        print(f"  {name}: chunked vs recurrent (float64, values and input gradients): "
              f"max |diff| {err:.2e}")
        assert err < 1e-9, f"{name}: chunked form differs from the recurrence ({err})"

    # The whole model in float64: chunked scans vs the recurrences, logits.
    s = Sizes(64)
    model = HybridLm(s, 80).to(dd)
    init_weights(model, 3)
    tok = torch.randint(0, VOCAB, (2, 80), generator=g)
    with torch.no_grad():
        l1 = model(tok)
        l2 = model(tok, scans=(ssd_recurrent, delta_rule_recurrent))
    err = (l1 - l2).abs().max().item()
    print(f"  model d=64 T=80 (float64): chunked vs recurrent scans, logits max |diff| "
          f"{err:.2e}")
    assert err < 1e-9, f"model logits differ between scan forms ({err})"


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        assert meta["dtype"] == "F32", f"{name}: {meta['dtype']}"
        b, e = meta["data_offsets"]
        t = torch.frombuffer(bytearray(blob[base + b:base + e]), dtype=torch.float32)
        out[name] = t.reshape(meta["shape"])
    return out


def read_npy_f32(path):
    with open(path, "rb") as f:
        blob = f.read()
    assert blob[:6] == b"\x93NUMPY", "not a .npy file"
    major = blob[6]
    if major == 1:
        (hl,) = struct.unpack("<H", blob[8:10])
        start = 10
    else:
        (hl,) = struct.unpack("<I", blob[8:12])
        start = 12
    hdr = blob[start:start + hl].decode("latin1")
    meta = ast.literal_eval(hdr)  # a Python dict literal by the format's definition
    assert meta["descr"] == "<f4" and not meta["fortran_order"], meta
    data = torch.frombuffer(bytearray(blob[start + hl:]), dtype=torch.float32)
    return data.reshape(meta["shape"])


def check_against_flashnas(binary, train_tokens):
    """Same weights (flashnas init) → logits of `flashnas logits` vs this model's; and
    flashnas's own first training losses (`flashnas train`, 3 steps at d=64)."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for width in (64, 128):
            s = Sizes(width)
            arch = os.path.join(tmp, f"arch{width}.json")
            with open(arch, "w") as f:
                json.dump(s.arch_json(), f)
            weights = os.path.join(tmp, f"w{width}.safetensors")
            subprocess.run([binary, "init", "--arch", arch, "--seed", "0", "--out", weights],
                           check=True, capture_output=True)
            # Two windows of 100 tokens (a partial second chunk for the scans).
            tok = torch.stack([train_tokens[1000:1100], train_tokens[50000:50100]])
            tok_file = os.path.join(tmp, "tokens.json")
            with open(tok_file, "w") as f:
                json.dump(tok.tolist(), f)
            npy = os.path.join(tmp, f"l{width}.npy")
            subprocess.run([binary, "logits", "--arch", arch, "--weights", weights,
                            "--tokens", tok_file, "--out", npy], check=True,
                           capture_output=True)
            ref = read_npy_f32(npy)
            sd = read_safetensors(weights)
            model = HybridLm(s, 100)
            names = set(model.state_dict().keys())
            assert names == set(sd.keys()), \
                f"tensor names differ: {sorted(names ^ set(sd.keys()))}"
            model.load_state_dict(sd)
            with torch.no_grad():
                ours = model(tok)
            err = (ours - ref).abs().max().item()
            scale = ref.abs().max().item()
            loss_ref = F.cross_entropy(ref[:, :-1].reshape(-1, VOCAB), tok[:, 1:].reshape(-1))
            loss_ours = F.cross_entropy(ours[:, :-1].reshape(-1, VOCAB), tok[:, 1:].reshape(-1))
            print(f"  d={width}: flashnas weights loaded ({len(sd)} tensors, "
                  f"{sum(t.numel() for t in sd.values())} params); logits max |diff| "
                  f"{err:.2e} (max |logit| {scale:.3f}); loss flashnas {loss_ref.item():.6f}, "
                  f"torch {loss_ours.item():.6f}")
            assert err <= 1e-4 * max(scale, 1.0), f"d={width}: logits differ ({err})"
            results[width] = err
        # The training step on the same weights and the same batch: a corpus whose training
        # split is exactly one window (val_fraction 0.5 of 2·257 bytes), so that every
        # random window flashnas draws is that one; 3 steps, then the weights compared.
        arch = os.path.join(tmp, "arch64.json")
        corpus = os.path.join(tmp, "one-window.txt")
        t, bsz, steps = 256, 4, 3
        window = train_tokens[:t + 1].cpu()
        with open(corpus, "wb") as f:
            f.write(bytes(train_tokens[:2 * (t + 1)].cpu().tolist()))
        cfg = os.path.join(tmp, "one-window.toml")
        with open(cfg, "w") as f:
            f.write(f"steps = {steps}\nseq_len = {t}\nbatch_size = {bsz}\nlog_every = 1\n"
                    f"[data]\npath = {json.dumps(corpus)}\nval_fraction = 0.5\n")
        out = os.path.join(tmp, "one-window.json")
        trained = os.path.join(tmp, "trained.safetensors")
        subprocess.run([binary, "train", "--arch", arch, "--config", cfg, "--out", out,
                        "--save", trained], check=True, capture_output=True, cwd=REPO)
        with open(out) as f:
            ref_curve = [v for _, v in json.load(f)["loss_curve"]]
        model = HybridLm(Sizes(64), t)
        model.load_state_dict(read_safetensors(os.path.join(tmp, "w64.safetensors")))
        x = window[:-1].expand(bsz, t).contiguous()
        y = window[1:].expand(bsz, t).contiguous()
        _, curve, _ = run_steps(model, lambda: (x, y), steps, "eager", torch.device("cpu"))
        ref_w = read_safetensors(trained)
        sd = model.state_dict()
        rel = max(((sd[k] - v).norm() / v.norm()).item() for k, v in ref_w.items())
        worst = max(ref_w, key=lambda k: ((sd[k] - ref_w[k]).norm() / ref_w[k].norm()).item())
        dl = max(abs(a - b) for a, b in zip(curve, ref_curve))
        print(f"  same weights, same batch ({bsz}×{t}), {steps} steps of the trainer (AdamW, "
              f"clip, schedule, weight norm), d=64:")
        print(f"    losses flashnas {[round(v, 5) for v in ref_curve]}")
        print(f"    losses torch    {[round(v, 5) for v in curve]}  (max |diff| {dl:.1e})")
        print(f"    trained weights: worst tensor relative L2 difference {rel:.1e} ({worst})")
        assert dl < 1e-3, "the training losses differ"
        assert rel < 1e-2, "the trained weights differ"
        results["step"] = {"loss_diff": dl, "weight_rel_diff": rel}
        # flashnas's own first losses (its init, its batches): 3 steps at d=64.
        cfg = os.path.join(tmp, "train.toml")
        with open(cfg, "w") as f:
            f.write("steps = 3\nseq_len = 256\nbatch_size = 16\nlog_every = 1\n")
        out = os.path.join(tmp, "result.json")
        subprocess.run([binary, "train", "--arch", arch, "--config", cfg, "--out", out],
                       check=True, capture_output=True, cwd=REPO)
        with open(out) as f:
            r = json.load(f)
        curve = [round(v, 4) for _, v in r["loss_curve"]]
        print(f"  flashnas train (d=64, 3 steps, 16×256): losses {curve}, "
              f"{r.get('params')} params")
        results["flashnas_curve"] = curve
    return results


def check(args, device):
    header(args, device)
    print("[1] parameter counts (module tensors vs flashnas's §10 tensor list and its printout)")
    for width in (64, 128):
        s = Sizes(width)
        m = HybridLm(s, 8)
        ours = sum(p.numel() for p in m.parameters())
        shapes = flashnas_tensor_shapes(s)
        assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == shapes, \
            "tensor names / shapes differ from §10"
        print(f"  d={width}: torch {ours}, flashnas {FLASHNAS_PARAMS[width]}")
        assert ours == flashnas_param_count(s) == FLASHNAS_PARAMS[width]
    print("[2] scans")
    check_scans()
    if args.flashnas:
        print(f"[3] against flashnas ({args.flashnas})")
        check_against_flashnas(args.flashnas, args.train_tokens)
    print(f"[4] {args.check_steps} training steps at d=64, {args.batch}×{args.seq_len}, "
          f"modes {','.join(args.modes)}")
    saved = args.steps, args.verbose
    args.steps, args.verbose = args.check_steps, True
    for mode in args.modes:
        r = train_run(64, mode, args, device)
        first, last = r["losses"][0], r["losses"][-1]
        print(f"  {mode}: initial loss {first:.4f} (ln 256 = {math.log(256):.4f}), "
              f"last {last:.4f}; first step {r['first_step_ms']:.0f} ms, then "
              f"{r['ms_per_step']:.0f} ms/step")
        assert abs(first - math.log(256)) < 0.05, "initial loss is not ≈ ln 256"
        assert last < first, "the loss did not decrease"
    args.steps, args.verbose = saved
    print("all checks passed")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--widths", default="128",
                    help="comma-separated model widths (multiples of 64), default 128")
    ap.add_argument("--width", help="alias of --widths")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--mode", default="eager", help="comma-separated: eager, compile")
    ap.add_argument("--compile-mode", default=None,
                    help="torch.compile mode (default: inductor's default)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (default: the CPUs this process may use, "
                         "as flashnas's thread pool)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the figures as JSON here")
    ap.add_argument("--verbose", action="store_true", help="print every step")
    ap.add_argument("--check", action="store_true",
                    help="correctness checks, then a few training steps (see README)")
    ap.add_argument("--check-steps", type=int, default=3)
    ap.add_argument("--flashnas", help="with --check: a flashnas binary to compare logits "
                                       "on the same weights and its first losses")
    args = ap.parse_args()
    args.widths = [int(w) for w in (args.width or args.widths).split(",") if w]
    for w in args.widths:
        if w <= 0 or w % 64:
            ap.error(f"{w}: the width must be a positive multiple of 64")
    args.modes = [m for m in args.mode.split(",") if m]
    for m in args.modes:
        if m not in ("eager", "compile"):
            ap.error(f"unknown mode {m!r} (eager, compile)")
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    device = torch.device(args.device)
    args.train_tokens = load_train_tokens(device)
    args.rss_base = peak_rss_mib()
    if args.check:
        check(args, device)
    else:
        if args.steps < 2:
            ap.error("--steps must be at least 2 (the first step is excluded)")
        bench(args, device)


if __name__ == "__main__":
    main()
