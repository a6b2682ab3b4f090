"""Reference causal language models, written from the Hugging Face sources
(src/transformers/models/<family>/modeling_<family>.py), for testing the deferred-norm patch
without `transformers`: the same module names and paths (model.layers.0.self_attn.q_proj,
lm_head, transformer.h.0.attn.c_attn, gpt_neox.layers.0.attention.query_key_value, embed_out)
and the same forward math (RoPE, GQA, SwiGLU/GeGLU, soft-capping, parallel residual, Conv1D).

Each model is built from a real config shrunk to 2 layers and small widths (keeping the GQA
ratio, head_dim ≠ hidden/heads where the real one has it, the structure), with random weights
and non-trivial γ and β.  Not reproduced: rope_scaling variants (llama3), dropout, KV caches.
"""
import json
import math
import os
from types import SimpleNamespace

import torch
from torch import nn
from torch.nn import functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# family → the real config each reference model is shrunk from (test/fixtures/configs*/SOURCES.md)
CONFIGS = {
    "llama": os.path.join(ROOT, "test/fixtures/configs/Llama-3.1-8B/config.json"),
    "mistral": os.path.join(ROOT, "test/fixtures/configs/Mistral-7B-v0.1/config.json"),
    "qwen2": os.path.join(ROOT, "test/fixtures/configs/Qwen2-7B-Instruct/config.json"),
    "qwen3": os.path.join(ROOT, "test/fixtures/configs/Qwen3-0.6B/config.json"),
    "gemma": os.path.join(ROOT, "test/fixtures/configs/Gemma-2b/config.json"),
    "gemma2": os.path.join(ROOT, "test/fixtures/configs-extra/Gemma-2-9b/config.json"),
    "phi3": os.path.join(ROOT, "test/fixtures/configs-extra/Phi-3-mini-4k-instruct/config.json"),
    "gpt_neox": os.path.join(ROOT, "test/fixtures/configs-extra/Pythia-410m/config.json"),
    "gpt2": os.path.join(ROOT, "test/fixtures/configs/GPT-2/config.json"),
}
VOCAB = 128
LAYERS = 2
HEAD_DIM = 16
HEAD_GAIN = 1.5
# Gemma multiplies its tied embeddings by √hidden at the input, so they are stored small: N(0, (c²/hidden)),
# entering at N(0, c²). Gemma 2's post-norms renormalize each branch, which shrinks the embedding's share
# of the residual, so its c is larger for the same clear top token.
GEMMA_EMBEDDING_STD = {"gemma": 1.0, "gemma2": 2.0}
WINDOW = 8  # sliding windows shrunk so that the 32-token verification batch crosses them


def shrink(config):
    """A small config of the same family: 2 layers, head_dim 16, the same kv-group ratio and the
    same head_dim·heads / hidden ratio."""
    c = dict(config)
    if c["model_type"] == "gpt2":
        c.update(n_embd=64, n_head=4, n_layer=LAYERS, n_positions=64, vocab_size=VOCAB)
        c["hidden_size"], c["num_attention_heads"], c["num_hidden_layers"] = 64, 4, LAYERS
        return c
    heads = c["num_attention_heads"]
    kv = c.get("num_key_value_heads") or heads
    head_dim = c.get("head_dim") or c["hidden_size"] // heads
    groups = heads // kv
    small_kv = 1 if kv == 1 else (4 if groups == 1 else 2)
    small_heads = small_kv * groups
    ratio = head_dim * heads / c["hidden_size"]
    hidden = 2 * round(small_heads * HEAD_DIM / ratio / 2)
    c.update(
        hidden_size=hidden,
        num_attention_heads=small_heads,
        num_key_value_heads=small_kv,
        head_dim=HEAD_DIM,
        intermediate_size=3 * hidden,
        num_hidden_layers=LAYERS,
        vocab_size=VOCAB,
    )
    if c.get("sliding_window") and c["model_type"] in ("mistral", "gemma2", "phi3"):
        c["sliding_window"] = WINDOW
    return c


def load_config(family):
    with open(CONFIGS[family], encoding="utf-8") as f:
        return shrink(json.load(f))


def _noisy(t, center, scale, g):
    with torch.no_grad():
        t.copy_(center + scale * torch.randn(t.shape, generator=g))


class RMSNorm(nn.Module):
    """LlamaRMSNorm (also Mistral, Qwen2, Qwen3, Phi-3): weight · (x·rsqrt(mean x² + ε)), the
    normalization in float32."""

    def __init__(self, size, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.variance_epsilon = eps

    def forward(self, x):
        dtype = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * h.to(dtype)


class GemmaRMSNorm(nn.Module):
    """GemmaRMSNorm: γ stored as w, output · (1 + w), all in float32."""

    def __init__(self, size, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(size))

    def forward(self, x):
        h = x.float()
        out = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return (out * (1.0 + self.weight.float())).type_as(x)


class Conv1D(nn.Module):
    """transformers.pytorch_utils.Conv1D: a linear layer with transposed weights, y = x·W + b, W [nx, nf]."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        shape = x.shape[:-1] + (self.nf,)
        return torch.addmm(self.bias, x.view(-1, x.shape[-1]), self.weight).view(shape)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(q, k, cos, sin):
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


class RotaryEmbedding(nn.Module):
    def __init__(self, dim, theta):
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (theta ** (torch.arange(0, dim, 2).float() / dim)), persistent=False)

    def forward(self, x, positions):
        freqs = positions[:, :, None].float() * self.inv_freq[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


def repeat_kv(x, groups):
    b, h, s, d = x.shape
    return x if groups == 1 else x[:, :, None].expand(b, h, groups, s, d).reshape(b, h * groups, s, d)


def eager_attention(module, q, k, v, mask, softcap=None):
    """transformers' eager_attention_forward: softmax in float32, GQA by repeating k and v."""
    k, v = repeat_kv(k, module.num_key_value_groups), repeat_kv(v, module.num_key_value_groups)
    logits = torch.matmul(q, k.transpose(2, 3)) * module.scaling
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    logits = logits + mask
    probs = torch.softmax(logits, dim=-1, dtype=torch.float32).to(q.dtype)
    return torch.matmul(probs, v).transpose(1, 2)


class Attention(nn.Module):
    """LlamaAttention and its relatives: Mistral, Qwen2 (biased q/k/v), Qwen3 (q_norm/k_norm per
    head before RoPE), Gemma, Gemma 2 (query_pre_attn_scalar, logit soft-capping), Phi-3 (fused
    qkv_proj).  forward(hidden_states, position_embeddings, attention_mask, ...) as in
    transformers >= 4.48."""

    def __init__(self, c, layer_idx, family):
        super().__init__()
        self.layer_idx = layer_idx
        self.head_dim = c["head_dim"]
        self.num_heads = c["num_attention_heads"]
        self.num_kv = c["num_key_value_heads"]
        self.num_key_value_groups = self.num_heads // self.num_kv
        self.scaling = (c["query_pre_attn_scalar"] if family == "gemma2" else self.head_dim) ** -0.5
        self.attn_logit_softcapping = c.get("attn_logit_softcapping") if family == "gemma2" else None
        self.is_causal = True
        self.family = family
        hidden, q_size, kv_size = c["hidden_size"], self.num_heads * self.head_dim, self.num_kv * self.head_dim
        if family == "phi3":
            self.qkv_proj = nn.Linear(hidden, q_size + 2 * kv_size, bias=False)
        else:
            bias = family == "qwen2" or bool(c.get("attention_bias"))
            self.q_proj = nn.Linear(hidden, q_size, bias=bias)
            self.k_proj = nn.Linear(hidden, kv_size, bias=bias)
            self.v_proj = nn.Linear(hidden, kv_size, bias=bias)
        self.o_proj = nn.Linear(q_size, hidden, bias=False)
        if family == "qwen3":
            self.q_norm = RMSNorm(self.head_dim, c["rms_norm_eps"])
            self.k_norm = RMSNorm(self.head_dim, c["rms_norm_eps"])

    def forward(self, hidden_states, position_embeddings, attention_mask, past_key_values=None, **kwargs):
        b, s = hidden_states.shape[:-1]
        shape = (b, s, -1, self.head_dim)
        if self.family == "phi3":
            qkv = self.qkv_proj(hidden_states)
            q_size, kv_size = self.num_heads * self.head_dim, self.num_kv * self.head_dim
            q, k, v = qkv[..., :q_size], qkv[..., q_size : q_size + kv_size], qkv[..., q_size + kv_size :]
        else:
            q, k, v = self.q_proj(hidden_states), self.k_proj(hidden_states), self.v_proj(hidden_states)
        q, k, v = q.view(shape), k.view(shape), v.view(shape)
        if self.family == "qwen3":
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q, k = apply_rotary(q, k, *position_embeddings)
        out = eager_attention(self, q, k, v, attention_mask, self.attn_logit_softcapping)
        return self.o_proj(out.reshape(b, s, -1)), None


class MLP(nn.Module):
    """LlamaMLP (SwiGLU) / GemmaMLP (GeGLU, tanh GELU) / Phi3MLP (fused gate_up_proj)."""

    def __init__(self, c, family):
        super().__init__()
        hidden, inter = c["hidden_size"], c["intermediate_size"]
        self.fused = family == "phi3"
        if self.fused:
            self.gate_up_proj = nn.Linear(hidden, 2 * inter, bias=False)
        else:
            self.gate_proj = nn.Linear(hidden, inter, bias=False)
            self.up_proj = nn.Linear(hidden, inter, bias=False)
        self.down_proj = nn.Linear(inter, hidden, bias=False)
        gelu = family in ("gemma", "gemma2")
        self.act = (lambda x: F.gelu(x, approximate="tanh")) if gelu else F.silu

    def forward(self, x):
        if self.fused:
            gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        else:
            gate, up = self.gate_proj(x), self.up_proj(x)
        return self.down_proj(self.act(gate) * up)


class DecoderLayer(nn.Module):
    def __init__(self, c, layer_idx, family):
        super().__init__()
        norm = GemmaRMSNorm if family in ("gemma", "gemma2") else RMSNorm
        eps = c["rms_norm_eps"]
        self.family = family
        self.self_attn = Attention(c, layer_idx, family)
        self.mlp = MLP(c, family)
        self.input_layernorm = norm(c["hidden_size"], eps)
        self.post_attention_layernorm = norm(c["hidden_size"], eps)
        if family == "gemma2":
            self.pre_feedforward_layernorm = norm(c["hidden_size"], eps)
            self.post_feedforward_layernorm = norm(c["hidden_size"], eps)

    def forward(self, x, position_embeddings, mask):
        attn, _ = self.self_attn(self.input_layernorm(x), position_embeddings, mask)
        if self.family == "gemma2":
            # Gemma 2: post-norms on each branch's output before the residual sum.
            x = x + self.post_attention_layernorm(attn)
            return x + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(x)))
        x = x + attn
        return x + self.mlp(self.post_attention_layernorm(x))


def causal_mask(length, dtype, window=None, device=None):
    """The additive mask transformers builds for eager attention: -inf above the diagonal and,
    with a sliding window, at or beyond `window` positions back."""
    i = torch.arange(length, device=device)[:, None]
    j = torch.arange(length, device=device)[None, :]
    allowed = j <= i
    if window:
        allowed &= i - j < window
    mask = torch.zeros(length, length, dtype=dtype, device=device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)[None, None]


class Output(SimpleNamespace):
    pass


def _config(c, family):
    tie = c.get("tie_word_embeddings", family in ("gemma", "gemma2", "gpt2"))
    return SimpleNamespace(
        model_type=c["model_type"],
        vocab_size=c["vocab_size"],
        num_hidden_layers=c["num_hidden_layers"],
        tie_word_embeddings=tie,
        _attn_implementation="eager",
    )


class DecoderModel(nn.Module):
    """LlamaModel / GemmaModel / Gemma2Model / …: embed_tokens, layers, norm, rotary_emb."""

    def __init__(self, c, family):
        super().__init__()
        self.family = family
        self.hidden_size = c["hidden_size"]
        self.sliding_window = c.get("sliding_window") if family in ("mistral", "gemma2", "phi3") else None
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(DecoderLayer(c, i, family) for i in range(c["num_hidden_layers"]))
        self.norm = (GemmaRMSNorm if family in ("gemma", "gemma2") else RMSNorm)(c["hidden_size"], c["rms_norm_eps"])
        self.rotary_emb = RotaryEmbedding(c["head_dim"], c.get("rope_theta", 10000.0))

    def forward(self, input_ids):
        h = self.embed_tokens(input_ids)
        if self.family in ("gemma", "gemma2"):
            h = h * torch.tensor(self.hidden_size**0.5, dtype=h.dtype)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)[None].expand(input_ids.shape[0], -1)
        position_embeddings = self.rotary_emb(h, positions)
        full = causal_mask(input_ids.shape[1], h.dtype, device=h.device)
        sliding = causal_mask(input_ids.shape[1], h.dtype, self.sliding_window, h.device)
        for i, layer in enumerate(self.layers):
            # Gemma 2 alternates sliding (even layers) and global attention; Mistral, Phi-3 slide everywhere.
            use_sliding = self.sliding_window and (self.family != "gemma2" or i % 2 == 0)
            h = layer(h, position_embeddings, sliding if use_sliding else full)
        return self.norm(h)


class CausalLM(nn.Module):
    """LlamaForCausalLM and relatives: model + lm_head (tied to embed_tokens where the config says so)."""

    def __init__(self, c, family):
        super().__init__()
        self.config = _config(c, family)
        self.model = DecoderModel(c, family)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        if self.config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.final_logit_softcapping = c.get("final_logit_softcapping") if family == "gemma2" else None

    def get_input_embeddings(self):
        return self.model.embed_tokens

    def forward(self, input_ids):
        logits = self.lm_head(self.model(input_ids))
        if self.final_logit_softcapping:
            cap = self.final_logit_softcapping
            logits = torch.tanh(logits / cap) * cap
        return Output(logits=logits)


class GPTNeoXAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.num_heads = c["num_attention_heads"]
        self.head_size = c["hidden_size"] // self.num_heads
        self.rotary_ndims = int(self.head_size * c["rotary_pct"])
        self.num_key_value_groups = 1
        self.scaling = self.head_size**-0.5
        self.query_key_value = nn.Linear(c["hidden_size"], 3 * c["hidden_size"])
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, x, position_embeddings, mask):
        b, s = x.shape[:-1]
        # The fused projection is laid out per head as [q | k | v] (modeling_gpt_neox.py).
        qkv = self.query_key_value(x).view(b, s, -1, 3 * self.head_size).transpose(1, 2)
        q, k, v = qkv.chunk(3, dim=-1)
        n = self.rotary_ndims
        q_rot, k_rot = apply_rotary(q[..., :n], k[..., :n], *position_embeddings)
        q, k = torch.cat((q_rot, q[..., n:]), dim=-1), torch.cat((k_rot, k[..., n:]), dim=-1)
        return self.dense(eager_attention(self, q, k, v, mask).reshape(b, s, -1))


class GPTNeoXMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.dense_4h_to_h = nn.Linear(c["intermediate_size"], c["hidden_size"])

    def forward(self, x):
        return self.dense_4h_to_h(F.gelu(self.dense_h_to_4h(x)))


class GPTNeoXLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.use_parallel_residual = c["use_parallel_residual"]
        self.input_layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.post_attention_layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.attention = GPTNeoXAttention(c)
        self.mlp = GPTNeoXMLP(c)

    def forward(self, x, position_embeddings, mask):
        attn = self.attention(self.input_layernorm(x), position_embeddings, mask)
        if self.use_parallel_residual:
            # x + attn(ln1(x)) + mlp(ln2(x)): both norms read the same x.
            return x + attn + self.mlp(self.post_attention_layernorm(x))
        x = x + attn
        return x + self.mlp(self.post_attention_layernorm(x))


class GPTNeoXModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_in = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(GPTNeoXLayer(c) for _ in range(c["num_hidden_layers"]))
        self.final_layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        head = c["hidden_size"] // c["num_attention_heads"]
        self.rotary_emb = RotaryEmbedding(int(head * c["rotary_pct"]), c["rotary_emb_base"])

    def forward(self, input_ids):
        h = self.embed_in(input_ids)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)[None].expand(input_ids.shape[0], -1)
        position_embeddings = self.rotary_emb(h, positions)
        mask = causal_mask(input_ids.shape[1], h.dtype, device=h.device)
        for layer in self.layers:
            h = layer(h, position_embeddings, mask)
        return self.final_layer_norm(h)


class GPTNeoXForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = _config(c, "gpt_neox")
        self.gpt_neox = GPTNeoXModel(c)
        self.embed_out = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)

    def get_input_embeddings(self):
        return self.gpt_neox.embed_in

    def forward(self, input_ids):
        return Output(logits=self.embed_out(self.gpt_neox(input_ids)))


class GPT2Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_dim = c["n_embd"]
        self.head_dim = self.embed_dim // c["n_head"]
        self.num_key_value_groups = 1
        self.scaling = self.head_dim**-0.5
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)

    def forward(self, x, mask):
        b, s = x.shape[:-1]
        q, k, v = self.c_attn(x).split(self.embed_dim, dim=2)
        q, k, v = (t.view(b, s, -1, self.head_dim).transpose(1, 2) for t in (q, k, v))
        return self.c_proj(eager_attention(self, q, k, v, mask).reshape(b, s, -1))


class GPT2MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = Conv1D(4 * c["n_embd"], c["n_embd"])
        self.c_proj = Conv1D(c["n_embd"], 4 * c["n_embd"])

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # gelu_new


class GPT2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        eps = c["layer_norm_epsilon"]
        self.ln_1 = nn.LayerNorm(c["n_embd"], eps=eps)
        self.attn = GPT2Attention(c)
        self.ln_2 = nn.LayerNorm(c["n_embd"], eps=eps)
        self.mlp = GPT2MLP(c)

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class GPT2Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab_size"], c["n_embd"])
        self.wpe = nn.Embedding(c["n_positions"], c["n_embd"])
        self.h = nn.ModuleList(GPT2Block(c) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])

    def forward(self, input_ids):
        h = self.wte(input_ids) + self.wpe(torch.arange(input_ids.shape[1], device=input_ids.device))[None]
        mask = causal_mask(input_ids.shape[1], h.dtype, device=h.device)
        for block in self.h:
            h = block(h, mask)
        return self.ln_f(h)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = _config(c, "gpt2")
        self.transformer = GPT2Model(c)
        self.lm_head = nn.Linear(c["n_embd"], c["vocab_size"], bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied, as GPT-2 always is

    def get_input_embeddings(self):
        return self.transformer.wte

    def forward(self, input_ids):
        return Output(logits=self.lm_head(self.transformer(input_ids)))


def randomize(model, seed):
    """Random weights: linears N(0, 1/in), embeddings N(0, 1) (Gemma: see GEMMA_EMBEDDING_STD), biases N(0, 0.1²); norms γ = 1 + 0.1·N
    (Gemma's stored w = 0.1·N), β = 0.1·N.  An untied output head's rows are HEAD_GAIN times the unit
    embedding rows plus N(0, 1/in): like a trained model's, the logits then have a clear top token,
    where a purely random head's near-ties flip at bf16's rounding alone (such a model's own bf16
    and fp32 logits disagree on the top token at 1–5% of positions)."""
    g = torch.Generator().manual_seed(seed)
    embeddings = model.get_input_embeddings().weight
    family = model.model.family if isinstance(model, CausalLM) else None
    for module in model.modules():
        if isinstance(module, (nn.Linear, Conv1D)) and module.weight is not embeddings:
            fan_in = module.weight.shape[0] if isinstance(module, Conv1D) else module.weight.shape[1]
            _noisy(module.weight, 0.0, 1.0 / math.sqrt(fan_in), g)
            if module.bias is not None:
                _noisy(module.bias, 0.0, 0.1, g)
        elif isinstance(module, nn.Embedding):
            hidden = module.weight.shape[1]
            std = GEMMA_EMBEDDING_STD[family] / math.sqrt(hidden) if family in GEMMA_EMBEDDING_STD else 1.0
            _noisy(module.weight, 0.0, std, g)
        elif isinstance(module, GemmaRMSNorm):
            _noisy(module.weight, 0.0, 0.1, g)
        elif isinstance(module, (RMSNorm, nn.LayerNorm)):
            _noisy(module.weight, 1.0, 0.1, g)
            if getattr(module, "bias", None) is not None:
                _noisy(module.bias, 0.0, 0.1, g)
    head = model.embed_out if isinstance(model, GPTNeoXForCausalLM) else model.lm_head
    if head.weight is not embeddings:
        unit = embeddings.detach() / embeddings.detach().norm(dim=-1, keepdim=True)
        _noisy(head.weight, HEAD_GAIN * unit, 1.0 / math.sqrt(head.weight.shape[1]), g)
    return model


def build(family, seed=0, dtype=torch.float32):
    """A small random reference model of `family`, in eval mode."""
    c = load_config(family)
    if family == "gpt2":
        model = GPT2LMHeadModel(c)
    elif family == "gpt_neox":
        model = GPTNeoXForCausalLM(c)
    else:
        model = CausalLM(c, family)
    # Random weights are drawn in float32 and then cast, so bf16 models are the fp32 ones rounded.
    return randomize(model, seed).to(dtype).eval()
