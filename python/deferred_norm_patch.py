"""Deferred-norm patch runtime: applies a deferred-norm plan to a loaded PyTorch language model.

A deferred RMSNorm/LayerNorm becomes an identity; its γ (and a LayerNorm's β and centring) is
folded, in float64, into the linear layers it fed; each of those becomes a DeferredLinear that
computes the norm's statistic of its own input (on a second CUDA stream, beside the matmul) and
scales its output before the bias: y = (x·W′ᵀ)·s + b′.  `apply` then checks the logits on a
fixed random batch and restores the model if they moved more than the tolerance.

Needs only torch >= 1.13; `transformers` is imported by `main()` alone, to load a model folder.
"""
import argparse
import inspect
import math
import os
import sys
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from torch import nn

# The generated module puts `PLAN = {...}` above this text; on its own the runtime has none.
PLAN = globals().get("PLAN")

PLAN_FORMAT = "deferred-norm-plan/1"

# Each family's foldable norms and the linears they feed, read from the Hugging Face modeling
# files (modeling_<family>.py).  A plan's site must name exactly these consumers: folding γ into
# only some of them would leave the others reading an unnormalized input.
_LLAMA_LIKE = {
    "input_layernorm": ("q_proj", "k_proj", "v_proj"),
    "post_attention_layernorm": ("gate_proj", "up_proj"),
    "norm": ("lm_head",),
}
FAMILIES = {
    "llama": _LLAMA_LIKE,
    "mistral": _LLAMA_LIKE,
    "qwen2": _LLAMA_LIKE,
    "qwen3": _LLAMA_LIKE,
    "gemma": _LLAMA_LIKE,
    # Gemma 2's post_attention_layernorm and post_feedforward_layernorm feed the residual, not a linear.
    "gemma2": {
        "input_layernorm": ("q_proj", "k_proj", "v_proj"),
        "pre_feedforward_layernorm": ("gate_proj", "up_proj"),
        "norm": ("lm_head",),
    },
    "phi3": {"input_layernorm": ("qkv_proj",), "post_attention_layernorm": ("gate_up_proj",), "norm": ("lm_head",)},
    # Parallel residual: both norms read the same x, each feeds only its own branch.
    "gpt_neox": {
        "input_layernorm": ("query_key_value",),
        "post_attention_layernorm": ("dense_h_to_4h",),
        "final_layer_norm": ("embed_out",),
    },
    "gpt2": {"ln_1": ("c_attn",), "ln_2": ("c_fc",), "ln_f": ("lm_head",)},
}
# Gemma stores RMSNorm's γ as w and multiplies by (1 + w).
_ONE_PLUS_WEIGHT = {"gemma", "gemma2"}
# Families whose attention is Llama's (q/k/v/o, RoPE, GQA): the deeper depths replace its forward.
_LLAMA_ATTENTION = {"llama", "mistral", "gemma", "gemma2"}

# Tolerances of the verification (the issue's acceptance rule).
FP32_REL_MAX_DIFF = 1e-4
LOW_PRECISION_TOP1 = 0.99
LOW_PRECISION_MEAN_KL = 1e-3


class UnsupportedModelError(Exception):
    """The model's family or module structure is one the patch cannot handle; nothing was changed."""


class PatchVerificationError(Exception):
    """The patched logits left the tolerance; the model was restored before this was raised."""


class PlanError(ValueError):
    """The plan is malformed: names the field and what was expected."""


def _at_least_fp32(x):
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _rms_statistic(x, eps):
    # As Hugging Face's RMSNorms: the mean square in (at least) float32 whatever the activations' dtype.
    return torch.rsqrt(_at_least_fp32(x).pow(2).mean(-1, keepdim=True) + eps)


def _std_statistic(x, eps):
    # As torch.nn.LayerNorm: the biased variance.
    return torch.rsqrt(_at_least_fp32(x).var(-1, unbiased=False, keepdim=True) + eps)


_STATISTICS = {"rmsnorm": _rms_statistic, "layernorm": _std_statistic}
_side_streams = {}


def _side_stream(device):
    if device not in _side_streams:
        _side_streams[device] = torch.cuda.Stream(device=device)
    return _side_streams[device]


def _matmul_with_statistic(x, matmul, statistic, eps):
    """(matmul(x), statistic(x, eps)); on CUDA the statistic runs on a second stream beside the matmul."""
    if not x.is_cuda:
        return matmul(x), statistic(x, eps)
    main = torch.cuda.current_stream(x.device)
    side = _side_stream(x.device)
    side.wait_stream(main)
    with torch.cuda.stream(side):
        s = statistic(x, eps)
    x.record_stream(side)
    y = matmul(x)
    main.wait_stream(side)
    s.record_stream(main)
    return y, s


class DeferredLinear(nn.Module):
    """A linear layer fed by a deferred norm: y = (x·W′ᵀ)·s(x) + b′, with s = 1/RMS(x) or 1/σ(x).

    `weight` keeps the layout of the module it replaces: [out, in] for torch.nn.Linear, [in, out]
    for GPT-2's Conv1D (`transposed`), so its state_dict keys and shapes stay the model's own.
    """

    def __init__(
        self,
        weight: torch.Tensor,
        bias: Optional[torch.Tensor],
        *,
        statistic: str,
        eps: float,
        transposed: bool = False,
        site: str = "",
    ):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)
        self.statistic = statistic
        self.eps = float(eps)
        self.transposed = transposed
        self.site = site
        if transposed:
            self.in_features, self.out_features = weight.shape
        else:
            self.out_features, self.in_features = weight.shape

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """x·W′ᵀ without scale or bias: what the deeper depths carry on before scaling."""
        return torch.matmul(x, self.weight) if self.transposed else nn.functional.linear(x, self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, s = _matmul_with_statistic(x, self.raw, _STATISTICS[self.statistic], self.eps)
        # The scale in float32 (one rounding), as the norm it replaces computed x·s.
        y = (_at_least_fp32(y) * s).to(y.dtype)
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        return f"in={self.in_features}, out={self.out_features}, statistic={self.statistic}, eps={self.eps}, site={self.site!r}"


def _is_conv1d(module):
    # transformers.pytorch_utils.Conv1D (GPT-2): y = x @ W + b with W of shape [in, out].
    return type(module).__name__ == "Conv1D" and hasattr(module, "nf") and module.weight.dim() == 2


def fold_norm_into_linear(
    linear: nn.Module, gamma: torch.Tensor, beta: Optional[torch.Tensor], kind: str
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """(W′, b′) for a linear fed by a norm with scale γ and shift β, computed in float64.

    RMSNorm: W′ = W·diag(γ).  LayerNorm: the centring x − mean(x) = (I − 11ᵀ/n)·x is folded into
    the weight too, W̃ = W·diag(γ)·(I − 11ᵀ/n), i.e. each output row of W·diag(γ) minus its mean,
    so the matmul stays the only pass over x; β·Wᵀ is added to the bias.  (Centring inside the
    deferred linear would cost an extra elementwise pass before the matmul, which is what
    deferring removes.)  Conv1D's weight is the transpose, so the same algebra runs on its rows.
    """
    weight = linear.weight.detach()
    transposed = _is_conv1d(linear)
    w = weight.double()
    g = gamma.to(w.device, torch.float64)
    if beta is not None:
        beta = beta.to(w.device, torch.float64)
    w_folded = g[:, None] * w if transposed else w * g[None, :]
    if kind == "layernorm":
        w_folded = w_folded - w_folded.mean(dim=0 if transposed else 1, keepdim=True)
    bias = None if linear.bias is None else linear.bias.detach().double()
    if beta is not None:
        shift = beta @ w if transposed else w @ beta
        bias = shift if bias is None else bias + shift
    out_bias = None if bias is None else bias.to(linear.bias.dtype if linear.bias is not None else weight.dtype)
    return w_folded.to(weight.dtype), out_bias


def _norm_parameters(norm, kind, family, path):
    """(γ, β, ε) of a norm module, γ as the effective multiplier (Gemma: 1 + w)."""
    if kind == "layernorm":
        if not isinstance(norm, nn.LayerNorm):
            raise UnsupportedModelError(f"{path}: the plan says layernorm but the module is a {type(norm).__name__}")
        if tuple(norm.normalized_shape) != (norm.normalized_shape[-1],):
            raise UnsupportedModelError(f"{path}: LayerNorm over {tuple(norm.normalized_shape)}; only the last dimension is supported")
        n = norm.normalized_shape[0]
        gamma = norm.weight.detach() if norm.weight is not None else torch.ones(n)
        beta = norm.bias.detach() if norm.bias is not None else None
        return gamma, beta, norm.eps
    if isinstance(norm, nn.LayerNorm):
        raise UnsupportedModelError(f"{path}: the plan says rmsnorm but the module is a torch.nn.LayerNorm")
    weight = getattr(norm, "weight", None)
    eps = getattr(norm, "variance_epsilon", getattr(norm, "eps", None))
    if not isinstance(weight, torch.Tensor) or weight.dim() != 1 or eps is None:
        raise UnsupportedModelError(
            f"{path}: a {type(norm).__name__} without a 1-D weight and an eps/variance_epsilon: not an RMSNorm the patch knows"
        )
    gamma = weight.detach().float() + 1.0 if family in _ONE_PLUS_WEIGHT else weight.detach()
    return gamma, None, float(eps)


def _layer_index(path):
    for part in path.split("."):
        if part.isdigit():
            return int(part)
    return None


def _check_plan(plan):
    if not isinstance(plan, dict):
        raise PlanError(f"plan: expected a dict in the {PLAN_FORMAT} format, got {type(plan).__name__}")
    if plan.get("format") != PLAN_FORMAT:
        raise PlanError(f"plan.format: expected {PLAN_FORMAT!r}, got {plan.get('format')!r}")
    if not isinstance(plan.get("family"), str):
        raise PlanError("plan.family: expected a family name such as 'llama'")
    sites = plan.get("sites")
    if not isinstance(sites, list):
        raise PlanError("plan.sites: expected a list of sites")
    for i, site in enumerate(sites):
        where = f"plan.sites[{i}]"
        if not isinstance(site, dict):
            raise PlanError(f"{where}: expected a dict")
        for key, kinds in (("id", str), ("kind", str), ("decision", str), ("layers", list)):
            if not isinstance(site.get(key), kinds):
                raise PlanError(f"{where}.{key}: expected a {kinds.__name__}, got {site.get(key)!r}")
        if site["decision"] not in ("defer", "keep", "ineligible"):
            raise PlanError(f"{where}.decision: expected defer, keep or ineligible, got {site['decision']!r}")
        if site["kind"] not in ("rmsnorm", "layernorm", "softmax"):
            raise PlanError(f"{where}.kind: expected rmsnorm, layernorm or softmax, got {site['kind']!r}")
        if site.get("depth") not in (None, "linear", "rope", "attention", "down"):
            raise PlanError(f"{where}.depth: expected linear, rope, attention, down or None, got {site.get('depth')!r}")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in site["layers"]):
            raise PlanError(f"{where}.layers: expected a list of integers")
        if site["kind"] != "softmax" and site["decision"] == "defer":
            if not isinstance(site.get("norm"), str):
                raise PlanError(f"{where}.norm: expected the norm module's name")
            if not isinstance(site.get("linears"), list) or not all(isinstance(n, str) for n in site["linears"]):
                raise PlanError(f"{where}.linears: expected a list of linear module names")


def _check_family(model, family):
    if family not in FAMILIES:
        raise UnsupportedModelError(
            f"family {family!r} is not supported by the deferred-norm patch (supported: {', '.join(sorted(FAMILIES))})"
        )
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type is not None and model_type != family:
        raise UnsupportedModelError(f"the plan is for family {family!r} but the model's config.model_type is {model_type!r}")


def _norm_paths(modules, site):
    """The norm's module path in each layer the site names (the final norm: the layer after the last)."""
    layer_count = 1 + max((i for i in map(_layer_index, modules) if i is not None), default=-1)
    found = []
    for layer in site["layers"]:
        want = None if layer == layer_count else layer
        paths = [p for p in modules if p.split(".")[-1] == site["norm"] and _layer_index(p) == want]
        if len(paths) != 1:
            raise UnsupportedModelError(
                f"site {site['id']!r}, layer {layer}: expected one module named {site['norm']!r}, found {len(paths)} "
                f"(the model has {layer_count} decoder layers; its final norm is layer {layer_count})"
            )
        found.append(paths[0])
    return found


def _resolve(model, family, site):
    """[(norm path, {linear name: linear path})] for each layer the site names."""
    modules = dict(model.named_modules())
    expected = FAMILIES[family].get(site["norm"])
    if expected is None or tuple(site["linears"]) != expected:
        known = "; ".join(f"{n} → {', '.join(ls)}" for n, ls in FAMILIES[family].items())
        raise UnsupportedModelError(
            f"site {site['id']!r}: {family} has no foldable norm {site['norm']!r} feeding {', '.join(site['linears'])} (it has: {known})"
        )
    found = []
    for norm_path in _norm_paths(modules, site):
        if isinstance(modules[norm_path], nn.Identity):
            raise UnsupportedModelError(f"{norm_path}: already an identity: has this plan been applied to the model already?")
        consumers = None
        parts = norm_path.split(".")[:-1]
        while consumers is None:
            prefix = ".".join(parts)
            under = [p for p in modules if p.startswith(prefix + ".") or prefix == ""]
            matches = {n: [p for p in under if p.split(".")[-1] == n] for n in expected}
            if all(len(m) == 1 for m in matches.values()):
                consumers = {n: m[0] for n, m in matches.items()}
            elif any(len(m) > 1 for m in matches.values()) or not parts:
                raise UnsupportedModelError(
                    f"site {site['id']!r}: no single {', '.join(expected)} next to {norm_path} in this model"
                )
            else:
                parts = parts[:-1]
        for name, path in consumers.items():
            linear = modules[path]
            if not (type(linear) is nn.Linear or _is_conv1d(linear)) or not linear.weight.is_floating_point():
                raise UnsupportedModelError(
                    f"{path}: a {type(linear).__name__} with {linear.weight.dtype} weights; the patch folds into torch.nn.Linear or Conv1D with floating-point weights"
                )
        found.append((norm_path, consumers))
    return found


def _parent(model, path):
    parent_path, _, attr = path.rpartition(".")
    return (model.get_submodule(parent_path) if parent_path else model), attr


def _deep_refusal(model, family, site, attention):
    """Why this site's planned depth falls back to 'linear', or None when the patch applies it."""
    depth = site.get("depth") or "linear"
    if depth == "linear":
        return None
    if depth == "down":
        return "the scale stops at the linear layer: no family the patch handles has a ReLU MLP (SiLU and GELU are not positively homogeneous)"
    if site["kind"] == "layernorm":
        return "a LayerNorm's deferred output r·(x·W̃) + c is not a scale of x·W̃, so it stops at the linear layer"
    if site["norm"] != "input_layernorm" or attention is None:
        return f"{site['norm']} does not feed the attention's q and k projections: no RoPE or q·kᵀ follows for r to reach"
    if hasattr(attention, "q_norm") or hasattr(attention, "k_norm"):
        return "per-head q_norm/k_norm renormalize every head after q_proj/k_proj: they remove r (up to ε) instead of passing it on, so r is applied at the projections"
    if not all(hasattr(attention, n) for n in ("q_proj", "k_proj", "v_proj")):
        return "q, k and v come from one fused matmul: its v columns need r right after it, so r is applied at the projection"
    if any(getattr(attention, n).bias is not None for n in ("q_proj", "k_proj", "v_proj")):
        return "q/k/v have a bias: the deferred output r·(x·W′) + b is not a scale of x·W′, so RoPE and the logits would not see a scale"
    if family not in _LLAMA_ATTENTION:
        return f"the patch replaces only the Llama-style attention forward (llama, mistral, gemma, gemma2), not {family}'s"
    missing = [a for a in ("head_dim", "scaling", "num_key_value_groups", "layer_idx", "o_proj") if not hasattr(attention, a)]
    if missing or "position_embeddings" not in inspect.signature(attention.forward).parameters:
        lacks = ", ".join(missing) if missing else "a position_embeddings argument"
        return f"this attention is not transformers >= 4.48's (it lacks {lacks}): the patch replaces only that forward"
    impl = getattr(getattr(model, "config", None), "_attn_implementation", "eager")
    if impl not in (None, "eager", "sdpa"):
        return f"attention implementation {impl!r}: the patch replaces only the eager/SDPA attention"
    return None


def _rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _repeat_kv(x, groups):
    if groups == 1:
        return x
    b, h, s, d = x.shape
    return x[:, :, None].expand(b, h, groups, s, d).reshape(b, h * groups, s, d)


def _deferred_attention_forward(attention, depth, statistic, eps):
    """A Llama-style attention forward with the norm's scale r carried past RoPE ('rope') or onto
    the logits and the probabilities ('attention'): RoPE is linear per position, RoPE(r·q) =
    r·RoPE(q); and r_i·r_j·(q_i·k_j) on the logits, with v's r_j on p_ij before ·V."""

    def forward(hidden_states, position_embeddings=None, attention_mask=None, **kwargs):
        self = attention
        batch, length = hidden_states.shape[:-1]
        head_dim = self.head_dim

        def projections(x):
            return self.q_proj(x), self.k_proj(x), self.v_proj(x)

        (q, k, v), r = _matmul_with_statistic(hidden_states, projections, statistic, eps)
        q = q.view(batch, length, -1, head_dim).transpose(1, 2)
        k = k.view(batch, length, -1, head_dim).transpose(1, 2)
        v = v.view(batch, length, -1, head_dim).transpose(1, 2)
        cos, sin = position_embeddings
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        r = r.view(batch, 1, length, 1)
        cache = kwargs.get("past_key_values", kwargs.get("past_key_value"))
        # A KV cache holds k and v, not r: with one, the keys are cached already scaled (the 'rope' form).
        if depth == "rope" or cache is not None:
            q, k, v = ((_at_least_fp32(t) * r).to(t.dtype) for t in (q, k, v))
            r_late = None
        else:
            r_late = r  # r_i on the query rows, r_j on the key columns
        if cache is not None:
            k, v = cache.update(k, v, self.layer_idx, {"sin": sin, "cos": cos, "cache_position": kwargs.get("cache_position")})
        groups = self.num_key_value_groups
        k, v = _repeat_kv(k, groups), _repeat_kv(v, groups)
        logits = _at_least_fp32(torch.matmul(q, k.transpose(2, 3))) * self.scaling
        if r_late is not None:
            logits = logits * r_late * r_late.transpose(2, 3)
        softcap = getattr(self, "attn_logit_softcapping", None)  # Gemma 2
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        if attention_mask is None:
            if length > 1 and getattr(self, "is_causal", True):
                keys = k.shape[-2]
                causal = torch.ones(length, keys, dtype=torch.bool, device=q.device).tril(keys - length)
                logits = logits.masked_fill(~causal, float("-inf"))
        elif attention_mask.dtype == torch.bool:
            logits = logits.masked_fill(~attention_mask[:, :, :, : k.shape[-2]], float("-inf"))
        else:
            logits = logits + attention_mask[:, :, :, : k.shape[-2]].float()
        probs = torch.softmax(logits, dim=-1)
        probs = nn.functional.dropout(probs, p=getattr(self, "attention_dropout", 0.0), training=self.training)
        if r_late is not None:
            probs = probs * r_late.transpose(2, 3)
        out = torch.matmul(probs.to(v.dtype), v)
        out = out.transpose(1, 2).reshape(batch, length, -1)
        return self.o_proj(out), None

    return forward


def _dtype_of(model):
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype, p.device
    raise UnsupportedModelError("the model has no floating-point parameters")


def _vocab_size(model):
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if isinstance(embeddings, nn.Embedding):
        return embeddings.num_embeddings
    size = getattr(getattr(model, "config", None), "vocab_size", None)
    if not isinstance(size, int):
        raise UnsupportedModelError("cannot find the vocabulary size (no input embedding, no config.vocab_size) for the verification batch")
    return size


def example_batch(model: nn.Module, batch: int = 8, length: int = 32, seed: int = 0) -> torch.Tensor:
    """The fixed verification batch: seeded random token ids on the model's device."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, _vocab_size(model), (batch, length), generator=generator)
    return ids.to(_dtype_of(model)[1])


def _logits(model, example_input):
    with torch.no_grad():
        out = model(example_input) if isinstance(example_input, torch.Tensor) else model(**example_input)
    if hasattr(out, "logits"):
        out = out.logits
    elif isinstance(out, dict):
        out = out["logits"]
    elif isinstance(out, (tuple, list)):
        out = out[0]
    return out.detach()


def compare_logits(
    before: torch.Tensor, after: torch.Tensor, dtype: torch.dtype, tolerance: Union[None, float, Tuple[float, float]] = None
) -> Dict[str, Any]:
    """The verification verdict: fp32/fp64 by the largest difference relative to the largest logit,
    bf16/fp16 by top-1 agreement and the mean KL divergence of the softmaxes."""
    before, after = before.float(), after.float()
    max_abs_diff = (after - before).abs().max().item()
    max_abs_logit = before.abs().max().item()
    top1 = (before.argmax(-1) == after.argmax(-1)).float().mean().item()
    log_p, log_q = torch.log_softmax(before, -1), torch.log_softmax(after, -1)
    mean_kl = (log_p.exp() * (log_p - log_q)).sum(-1).mean().item()
    finite = math.isfinite(max_abs_diff) and math.isfinite(mean_kl)
    if dtype in (torch.float32, torch.float64):
        if tolerance is not None and not isinstance(tolerance, (int, float)):
            raise ValueError(f"tolerance: for a {dtype} model expected a number (max |Δ| relative to max |logit|), got {tolerance!r}")
        rel = FP32_REL_MAX_DIFF if tolerance is None else tolerance
        passed = finite and max_abs_diff <= rel * max_abs_logit
        rule = f"max |Δ| ≤ {rel:g}·max |logit|"
    else:
        if tolerance is not None and not (isinstance(tolerance, (tuple, list)) and len(tolerance) == 2):
            raise ValueError(f"tolerance: for a {dtype} model expected (top-1 minimum, mean-KL maximum), got {tolerance!r}")
        top1_min, kl_max = (LOW_PRECISION_TOP1, LOW_PRECISION_MEAN_KL) if tolerance is None else tolerance
        passed = finite and top1 >= top1_min and mean_kl <= kl_max
        rule = f"top-1 agreement ≥ {top1_min:g} and mean KL ≤ {kl_max:g}"
    return {
        "dtype": str(dtype).replace("torch.", ""),
        "max_abs_diff": max_abs_diff,
        "max_abs_logit": max_abs_logit,
        "top1_agreement": top1,
        "mean_kl": mean_kl,
        "passed": bool(passed),
        "rule": rule,
    }


def _badness(verdict):
    """One number to rank sites by how far each alone moves the logits."""
    return verdict["max_abs_diff"] / max(verdict["max_abs_logit"], 1e-30) + verdict["mean_kl"] + (1 - verdict["top1_agreement"])


class _Patcher:
    """Plans each change as (parent, attribute, replacement); swaps them in and back."""

    def __init__(self, model, plan):
        self.model = model
        self.plan = plan
        self.family = plan["family"]
        self.changes = []  # one list of (parent, attr, original, replacement) per applied entry
        self.applied = []
        self.skipped = []

    def build(self):
        for site in self.plan["sites"]:
            if site["kind"] == "softmax":
                self.skipped.append({
                    "site": site["id"],
                    "module": None,
                    "reason": "PyTorch SDPA and FlashAttention already divide by the row sum after ·V; the patch does not replace the attention's softmax",
                })
                continue
            if site["decision"] != "defer":
                reason = f"{site['decision']}: {site.get('reason') or 'the plan keeps this norm'}"
                norm = site.get("norm")
                paths = _norm_paths(dict(self.model.named_modules()), site) if isinstance(norm, str) else [None]
                self.skipped.extend({"site": site["id"], "module": path, "reason": reason} for path in paths)
                continue
            for norm_path, consumers in _resolve(self.model, self.family, site):
                self.changes.append(self._site_changes(site, norm_path, consumers))

    def _site_changes(self, site, norm_path, consumers):
        kind = site["kind"]
        norm = self.model.get_submodule(norm_path)
        gamma, beta, eps = _norm_parameters(norm, kind, self.family, norm_path)
        layer = _layer_index(norm_path)
        label = f"{site['id']}@{layer if layer is not None else 'final'}"
        first = next(iter(consumers.values())).rpartition(".")[0]
        attention = self.model.get_submodule(first) if site["norm"] == "input_layernorm" and first else None
        refusal = _deep_refusal(self.model, self.family, site, attention)
        depth = "linear" if refusal else (site.get("depth") or "linear")
        changes = [(*_parent(self.model, norm_path), norm, nn.Identity())]
        for path in consumers.values():
            linear = self.model.get_submodule(path)
            weight, bias = fold_norm_into_linear(linear, gamma, beta, kind)
            if depth == "linear":
                replacement = DeferredLinear(weight, bias, statistic=kind, eps=eps, transposed=_is_conv1d(linear), site=label)
            else:
                # The deeper depths scale inside the attention: q/k/v stay plain (bias-free) linears.
                replacement = nn.Linear(linear.in_features, linear.out_features, bias=False, device="meta")
                replacement.weight = nn.Parameter(weight, requires_grad=False)
            changes.append((*_parent(self.model, path), linear, replacement))
        if depth != "linear":
            forward = _deferred_attention_forward(attention, depth, _STATISTICS[kind], eps)
            changes.append((attention, "forward", attention.__dict__.get("forward"), forward))
        untie = self._untie_note(consumers)
        entry = {"site": site["id"], "module": norm_path, "linears": list(consumers.values()), "depth": depth}
        if refusal and site.get("depth") not in (None, "linear"):
            entry["planned_depth"] = site["depth"]
            entry["fallback"] = refusal
        if untie:
            entry["note"] = untie
        self.applied.append(entry)
        return changes

    def _untie_note(self, consumers):
        embeddings = self.model.get_input_embeddings() if hasattr(self.model, "get_input_embeddings") else None
        for path in consumers.values():
            if embeddings is not None and self.model.get_submodule(path).weight is getattr(embeddings, "weight", None):
                return f"{path} was tied to the input embeddings: it now holds its own folded copy; the embeddings are unchanged"
        return None

    @staticmethod
    def swap(changes, forward=True):
        for parent, attr, original, replacement in changes if forward else reversed(changes):
            value = replacement if forward else original
            if attr == "forward" and value is None:
                parent.__dict__.pop("forward", None)
            elif attr == "forward":
                parent.__dict__["forward"] = value
            else:
                setattr(parent, attr, value)

    def swap_in(self, indices=None):
        for i in range(len(self.changes)) if indices is None else indices:
            self.swap(self.changes[i], True)

    def restore(self):
        for group in reversed(self.changes):
            self.swap(group, False)


def apply(
    model: nn.Module,
    plan: Optional[Dict[str, Any]] = PLAN,
    verify: bool = True,
    *,
    tolerance: Union[None, float, Tuple[float, float]] = None,
    example_input: Union[None, torch.Tensor, Dict[str, torch.Tensor]] = None,
) -> Dict[str, Any]:
    """Apply `plan` to `model` in place; see the module docstring.

    Returns {"applied": [...], "skipped": [...], "verified": {...} or None}.  Raises PlanError for a
    malformed plan, UnsupportedModelError for a family or structure the patch cannot handle (before
    changing anything), PatchVerificationError (naming the worst site) after restoring the model.
    `tolerance`: fp32 a relative max |Δ|; bf16/fp16 a (top-1 minimum, mean-KL maximum) pair.
    """
    if plan is None:
        raise PlanError("plan: none given and this module defines no PLAN (run the generated module, or pass plan=)")
    _check_plan(plan)
    _check_family(model, plan["family"])
    patcher = _Patcher(model, plan)
    patcher.build()
    dtype = _dtype_of(model)[0]
    if not verify:
        patcher.swap_in()
        _finish(model, patcher)
        return {"applied": patcher.applied, "skipped": patcher.skipped, "verified": None}
    example = example_batch(model) if example_input is None else example_input
    training = model.training
    model.eval()  # dropout off: the before and after passes must see the same function
    try:
        before = _logits(model, example)
        patcher.swap_in()
        try:
            verdict = compare_logits(before, _logits(model, example), dtype, tolerance)
        except BaseException:
            patcher.restore()
            raise
        if not verdict["passed"]:
            patcher.restore()
            worst = _worst_site(model, patcher, before, example, dtype, tolerance)
            raise PatchVerificationError(
                f"the patched logits fail {verdict['rule']} ({_describe(verdict)}); worst site alone: {worst}; the model was restored"
            )
    finally:
        model.train(training)
    _finish(model, patcher)
    return {"applied": patcher.applied, "skipped": patcher.skipped, "verified": verdict}


def _describe(v):
    return f"max |Δ| {v['max_abs_diff']:.3g} of max |logit| {v['max_abs_logit']:.3g}, top-1 {v['top1_agreement']:.4f}, mean KL {v['mean_kl']:.3g}"


def _worst_site(model, patcher, before, example, dtype, tolerance):
    # Each applied entry alone, from the original model: the one that moves the logits most.
    ranked = []
    for i, entry in enumerate(patcher.applied):
        patcher.swap_in([i])
        try:
            verdict = compare_logits(before, _logits(model, example), dtype, tolerance)
        finally:
            patcher.swap(patcher.changes[i], False)
        ranked.append((_badness(verdict), entry, verdict))
    _, entry, verdict = max(ranked, key=lambda t: t[0])
    return f"{entry['site']} at {entry['module']} ({_describe(verdict)})"


def _finish(model, patcher):
    # A folded lm_head is no longer the embeddings' twin: keep transformers from re-tying it.
    if any("note" in e for e in patcher.applied) and hasattr(getattr(model, "config", None), "tie_word_embeddings"):
        model.config.tie_word_embeddings = False


def format_report(result: Dict[str, Any]) -> str:
    """The applied and skipped sites, one line per layer, and the verification, as plain text."""
    w = max([len("site")] + [len(e["site"]) for e in result["applied"] + result["skipped"]])
    lines = [f"{'site':<{w}} {'depth':<9} module → linears"]
    for e in result["applied"]:
        lines.append(f"{e['site']:<{w}} {e['depth']:<9} {e['module']} → {', '.join(e['linears'])}")
        if "fallback" in e:
            lines.append(f"{'':<{w}} {'':<9} (planned {e['planned_depth']}: {e['fallback']})")
        if "note" in e:
            lines.append(f"{'':<{w}} {'':<9} ({e['note']})")
    for e in result["skipped"]:
        lines.append(f"{e['site']:<{w}} {'skipped':<9} {e['module'] or '-'}: {e['reason']}")
    v = result.get("verified")
    if v:
        lines.append(f"verified ({v['dtype']}, {v['rule']}): {_describe(v)}: {'passed' if v['passed'] else 'FAILED'}")
    else:
        lines.append("not verified (--no-verify)")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """The generated module's command line: load a model folder with transformers, apply PLAN, print
    what was applied and skipped.  Exit 0 applied and verified; 1 verification failed (the model
    was restored); 2 bad input (no PLAN, no such folder, no transformers, an unsupported model)."""
    parser = argparse.ArgumentParser(
        description="Apply this module's deferred-norm plan to a Hugging Face model folder and verify the logits."
    )
    parser.add_argument("model", help="a Hugging Face model folder (config.json and weights), loaded with transformers")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-verify", action="store_true", help="apply without the before/after logits check")
    args = parser.parse_args(argv)

    def fail(message):
        print(f"error: {message}", file=sys.stderr)
        return 2

    if PLAN is None:
        return fail("this module has no PLAN: run the module that `deferred-norm` generates, not the bare runtime")
    config = os.path.join(args.model, "config.json")
    if not os.path.isfile(config):
        return fail(f"{config}: not found; expected a Hugging Face model folder holding config.json and its weights")
    try:
        from transformers import AutoModelForCausalLM
    except ImportError:
        return fail("loading a model folder needs the `transformers` package (pip install transformers); apply() itself needs only torch")
    try:
        model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=getattr(torch, args.dtype))
        model = model.to(args.device).eval()
    except (OSError, ValueError, RuntimeError) as error:
        return fail(f"{args.model}: transformers could not load it: {error}")
    try:
        result = apply(model, PLAN, verify=not args.no_verify)
    except (PlanError, UnsupportedModelError) as error:
        return fail(f"{args.model}: {error}")
    except PatchVerificationError as error:
        print(f"error: {args.model}: {error}", file=sys.stderr)
        return 1
    print(format_report(result))
    return 0

if __name__ == "__main__":
    sys.exit(main())
