"""The deferred-norm patch runtime (python/deferred_norm_patch.py) on reference models of every
supported family, in real PyTorch.  Expected values are computed here by a second method: the
textbook normalize-then-multiply, W·diag(γ) by matrix products, logits compared by hand."""
import copy
import importlib.util
import os
import pprint
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "python"))

import deferred_norm_patch as dnp  # noqa: E402
import reference_models as rm  # noqa: E402

LAYERS = rm.LAYERS


def site(id_, kind, norm, linears, layers, decision="defer", depth="linear", reason=""):
    return {
        "id": id_,
        "name": f"{norm} → {', '.join(linears)}",
        "kind": kind,
        "norm": norm,
        "linears": linears,
        "layers": layers,
        "decision": decision,
        "depth": depth,
        "reason": reason,
        "savedUs": 1.0,
    }


def plan(family, sites):
    return {
        "format": "deferred-norm-plan/1",
        "model": f"reference {family}",
        "family": family,
        "hardware": "dimc",
        "workload": "decode b32 ctx2048 fp8",
        "generator": "hand-written test plan",
        "sites": sites,
    }


# What the profiler decides for each family at linear depth: every eligible norm deferred, the
# softmax reported too (hand-written, in the plan format, from the Hugging Face module structure).
BODY = [0, 1]
FINAL = [LAYERS]
SOFTMAX = site("softmax", "softmax", None, [], BODY)
PLANS = {
    "llama": plan("llama", [
        site("attn-norm", "rmsnorm", "input_layernorm", ["q_proj", "k_proj", "v_proj"], BODY),
        site("mlp-norm", "rmsnorm", "post_attention_layernorm", ["gate_proj", "up_proj"], BODY),
        site("final-norm", "rmsnorm", "norm", ["lm_head"], FINAL),
        SOFTMAX,
    ]),
    "gemma2": plan("gemma2", [
        site("attn-norm", "rmsnorm", "input_layernorm", ["q_proj", "k_proj", "v_proj"], BODY),
        site("post-attn-norm", "rmsnorm", "post_attention_layernorm", [], BODY, "ineligible", None,
             "feeds the residual sum, not a linear layer"),
        site("mlp-norm", "rmsnorm", "pre_feedforward_layernorm", ["gate_proj", "up_proj"], BODY),
        site("post-mlp-norm", "rmsnorm", "post_feedforward_layernorm", [], BODY, "ineligible", None,
             "feeds the residual sum, not a linear layer"),
        site("final-norm", "rmsnorm", "norm", ["lm_head"], FINAL),
        SOFTMAX,
    ]),
    "phi3": plan("phi3", [
        site("attn-norm", "rmsnorm", "input_layernorm", ["qkv_proj"], BODY),
        site("mlp-norm", "rmsnorm", "post_attention_layernorm", ["gate_up_proj"], BODY),
        site("final-norm", "rmsnorm", "norm", ["lm_head"], FINAL),
    ]),
    "gpt_neox": plan("gpt_neox", [
        site("attn-norm", "layernorm", "input_layernorm", ["query_key_value"], BODY),
        site("mlp-norm", "layernorm", "post_attention_layernorm", ["dense_h_to_4h"], BODY),
        site("final-norm", "layernorm", "final_layer_norm", ["embed_out"], FINAL),
    ]),
    "gpt2": plan("gpt2", [
        site("attn-norm", "layernorm", "ln_1", ["c_attn"], BODY),
        site("mlp-norm", "layernorm", "ln_2", ["c_fc"], BODY),
        site("final-norm", "layernorm", "ln_f", ["lm_head"], FINAL),
        SOFTMAX,
    ]),
}
for _family in ("mistral", "qwen2", "qwen3", "gemma"):
    PLANS[_family] = dict(PLANS["llama"], family=_family, model=f"reference {_family}")

# family → (norm path, consumer paths, LayerNorm?) of one deferred site, for the fold check
FOLD_SITES = {
    "llama": ("model.layers.1.input_layernorm", ["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"]),
    "qwen2": ("model.layers.0.input_layernorm", ["model.layers.0.self_attn.k_proj"]),
    "gemma": ("model.layers.0.post_attention_layernorm", ["model.layers.0.mlp.gate_proj"]),
    "gemma2": ("model.layers.1.pre_feedforward_layernorm", ["model.layers.1.mlp.up_proj"]),
    "phi3": ("model.layers.0.input_layernorm", ["model.layers.0.self_attn.qkv_proj"]),
    "gpt_neox": ("gpt_neox.layers.1.post_attention_layernorm", ["gpt_neox.layers.1.mlp.dense_h_to_4h"]),
    "gpt2": ("transformer.h.0.ln_1", ["transformer.h.0.attn.c_attn"]),
    "qwen3": ("model.norm", ["lm_head"]),
}


def logits(model, ids):
    with torch.no_grad():
        return model(ids).logits.float()


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_state_equal(case, model, saved):
    now = model.state_dict()
    case.assertEqual(list(now), list(saved))
    for key, value in saved.items():
        case.assertEqual(now[key].dtype, value.dtype, key)
        case.assertTrue(torch.equal(now[key], value), f"{key} differs after the restore")


def check_fp32(case, before, after):
    """The issue's fp32 rule, computed here: max |Δ| ≤ 1e-4 · max |logit|."""
    case.assertLessEqual((after - before).abs().max().item(), 1e-4 * before.abs().max().item())


def check_low_precision(case, before, after):
    """The issue's bf16/fp16 rule, computed here: top-1 agreement ≥ 99 %, mean KL(before‖after) ≤ 1e-3."""
    agreement = (before.argmax(-1) == after.argmax(-1)).double().mean().item()
    p = torch.softmax(before.double(), -1)
    kl = (p * (torch.log(p) - torch.log_softmax(after.double(), -1))).sum(-1).mean().item()
    case.assertGreaterEqual(agreement, 0.99)
    case.assertLessEqual(kl, 1e-3)


class FamilyTest(unittest.TestCase):
    def test_logits_kept_fp32_and_bf16(self):
        for family in rm.CONFIGS:
            for dtype, check in ((torch.float32, check_fp32), (torch.bfloat16, check_low_precision)):
                with self.subTest(family=family, dtype=dtype):
                    model = rm.build(family, dtype=dtype)
                    ids = dnp.example_batch(model, seed=1)  # not the batch `apply` verifies on
                    before = logits(model, ids)
                    result = dnp.apply(model, PLANS[family])
                    self.assertTrue(result["verified"]["passed"])
                    check(self, before, logits(model, ids))
                    deferred = [s for s in PLANS[family]["sites"] if s["decision"] == "defer" and s["kind"] != "softmax"]
                    self.assertEqual(len(result["applied"]), sum(len(s["layers"]) for s in deferred))
                    norms = {s["norm"] for s in deferred}
                    for path, module in model.named_modules():
                        if path.split(".")[-1] in norms:
                            self.assertIsInstance(module, nn.Identity, path)

    def test_folded_weights_are_w_diag_gamma(self):
        for family, (norm_path, linear_paths) in FOLD_SITES.items():
            with self.subTest(family=family):
                model = rm.build(family)
                norm = model.get_submodule(norm_path)
                gamma = norm.weight.detach().double()
                if family in ("gemma", "gemma2"):
                    gamma = 1.0 + gamma  # Gemma stores γ − 1
                layernorm = isinstance(norm, nn.LayerNorm)
                originals = {p: (model.get_submodule(p).weight.detach().double().clone(),
                                 None if model.get_submodule(p).bias is None else model.get_submodule(p).bias.detach().double().clone())
                             for p in linear_paths}
                dnp.apply(model, PLANS[family], verify=False)
                n = gamma.numel()
                centre = torch.eye(n, dtype=torch.float64) - torch.full((n, n), 1.0 / n, dtype=torch.float64)
                for path, (w, b) in originals.items():
                    folded = model.get_submodule(path)
                    self.assertIsInstance(folded, dnp.DeferredLinear)
                    if family == "gpt2":
                        # Conv1D: y = x·W + b with W [in, out]: (x − μ)/σ·diag(γ)·W = x·C·diag(γ)·W/σ
                        expected_w = centre @ torch.diag(gamma) @ w
                        expected_b = b + norm.bias.detach().double() @ w
                    else:
                        expected_w = w @ torch.diag(gamma) @ (centre if layernorm else torch.eye(n, dtype=torch.float64))
                        expected_b = b if not layernorm else b + w @ norm.bias.detach().double()
                    self.assertEqual(folded.weight.shape, w.shape)
                    torch.testing.assert_close(folded.weight.double(), expected_w, rtol=1e-6, atol=1e-6)
                    if expected_b is None:
                        self.assertIsNone(folded.bias)
                    else:
                        torch.testing.assert_close(folded.bias.double(), expected_b, rtol=1e-6, atol=1e-6)

    def test_tied_embeddings_unchanged(self):
        for family in ("gpt2", "qwen3", "gemma", "gemma2"):
            with self.subTest(family=family):
                model = rm.build(family)
                embeddings = model.get_input_embeddings().weight
                self.assertIs(model.lm_head.weight, embeddings)
                saved = embeddings.detach().clone()
                result = dnp.apply(model, PLANS[family])
                self.assertTrue(torch.equal(model.get_input_embeddings().weight, saved))
                self.assertIsNot(model.lm_head.weight, model.get_input_embeddings().weight)
                self.assertFalse(model.config.tie_word_embeddings)
                final = [e for e in result["applied"] if e["site"] == "final-norm"]
                self.assertIn("tied", final[0]["note"])

    def test_softmax_and_ineligible_sites_are_skipped_with_reasons(self):
        model = rm.build("gemma2")
        result = dnp.apply(model, PLANS["gemma2"])
        skipped = {e["site"]: e["reason"] for e in result["skipped"]}
        self.assertIn("after ·V", skipped["softmax"])
        self.assertIn("feeds the residual sum", skipped["post-attn-norm"])
        self.assertIsInstance(model.model.layers[0].post_attention_layernorm, rm.GemmaRMSNorm)
        self.assertIsInstance(model.model.layers[0].post_feedforward_layernorm, rm.GemmaRMSNorm)


class KeepTest(unittest.TestCase):
    def test_a_kept_site_is_left_alone(self):
        model = rm.build("llama")
        mlp_norm = model.model.layers[1].post_attention_layernorm
        gate = model.model.layers[1].mlp.gate_proj
        gate_weight = gate.weight.detach().clone()
        kept = copy.deepcopy(PLANS["llama"])
        kept["sites"][1] = site("mlp-norm", "rmsnorm", "post_attention_layernorm", ["gate_proj", "up_proj"], BODY,
                                "keep", None, "the MLP is not on the critical path")
        result = dnp.apply(model, kept)
        self.assertIs(model.model.layers[1].post_attention_layernorm, mlp_norm)
        self.assertIs(model.model.layers[1].mlp.gate_proj, gate)
        self.assertTrue(torch.equal(gate.weight, gate_weight))
        self.assertIsInstance(model.model.layers[1].input_layernorm, nn.Identity)
        skipped = [(e["site"], e["module"], e["reason"]) for e in result["skipped"]]
        reason = "keep: the MLP is not on the critical path"
        self.assertEqual(skipped[:2], [("mlp-norm", f"model.layers.{i}.post_attention_layernorm", reason) for i in BODY])
        self.assertEqual(skipped[2][:2], ("softmax", None))

    def test_verification_leaves_a_training_model_in_training_mode(self):
        model = rm.build("llama").train()
        dnp.apply(model, PLANS["llama"])
        self.assertTrue(model.training)


class SabotageTest(unittest.TestCase):
    """A wrong patch must fail verification, name its site, and leave the model exactly as it was."""

    def _expect_failure_and_restore(self, family, dtype, site_in_message):
        model = rm.build(family, dtype=dtype)
        ids = dnp.example_batch(model, seed=2)
        saved, before = snapshot(model), logits(model, ids)
        modules = dict(model.named_modules())
        with self.assertRaises(dnp.PatchVerificationError) as raised:
            dnp.apply(model, PLANS[family])
        self.assertIn(site_in_message, str(raised.exception))
        self.assertIn("restored", str(raised.exception))
        assert_state_equal(self, model, saved)
        self.assertEqual(list(dict(model.named_modules())), list(modules))
        for path, module in model.named_modules():
            self.assertIs(module, modules[path], path)
        self.assertTrue(torch.equal(logits(model, ids), before))
        if getattr(model, "lm_head", None) is not None and model.config.tie_word_embeddings:
            self.assertIs(model.lm_head.weight, model.get_input_embeddings().weight)

    def test_a_wrong_gamma_fails_and_restores(self):
        real = dnp._norm_parameters

        def wrong_gamma(norm, kind, family, path):
            gamma, beta, eps = real(norm, kind, family, path)
            if path.endswith("layers.1.post_attention_layernorm"):
                gamma = gamma.flip(0)  # γ of the wrong channels
            return gamma, beta, eps

        dnp._norm_parameters = wrong_gamma
        try:
            for family, dtype in (("llama", torch.float32), ("gpt_neox", torch.float32), ("phi3", torch.bfloat16)):
                with self.subTest(family=family, dtype=dtype):
                    prefix = "gpt_neox" if family == "gpt_neox" else "model"
                    self._expect_failure_and_restore(family, dtype, f"mlp-norm at {prefix}.layers.1.post_attention_layernorm")
        finally:
            dnp._norm_parameters = real

    def test_a_scale_after_the_bias_fails_and_restores(self):
        real = dnp.DeferredLinear.forward

        def scale_after_bias(self, x):
            y, s = dnp._matmul_with_statistic(x, self.raw, dnp._STATISTICS[self.statistic], self.eps)
            if self.bias is not None:
                y = y + self.bias
            return (dnp._at_least_fp32(y) * s).to(y.dtype)

        dnp.DeferredLinear.forward = scale_after_bias
        try:
            # GPT-2's Conv1D and Qwen2's q/k/v carry biases; gpt2 with its tied head.
            for family in ("gpt2", "qwen2"):
                with self.subTest(family=family):
                    self._expect_failure_and_restore(family, torch.float32, "worst site alone:")
        finally:
            dnp.DeferredLinear.forward = real


class DeeperDepthTest(unittest.TestCase):
    def _deep_plan(self, family, depth):
        deep = copy.deepcopy(PLANS[family])
        deep["sites"][0]["depth"] = depth
        return deep

    def test_rope_and_attention_depths_keep_the_logits(self):
        for family in ("llama", "mistral", "gemma", "gemma2"):
            for depth in ("rope", "attention"):
                with self.subTest(family=family, depth=depth):
                    model = rm.build(family)
                    ids = dnp.example_batch(model, seed=3)
                    before = logits(model, ids)
                    result = dnp.apply(model, self._deep_plan(family, depth))
                    attn = [e for e in result["applied"] if e["site"] == "attn-norm"]
                    self.assertEqual([e["depth"] for e in attn], [depth] * len(BODY))
                    self.assertNotIn("fallback", attn[0])
                    # q/k/v are plain linears now: the scale is applied inside the attention
                    self.assertIs(type(model.model.layers[0].self_attn.q_proj), nn.Linear)
                    check_fp32(self, before, logits(model, ids))

    def test_a_kv_cache_decode_step_matches_the_full_attention(self):
        class ListCache:
            """The part of transformers' Cache the attention calls: update() appends and returns all."""

            def __init__(self):
                self.k = self.v = None

            def update(self, k, v, layer_idx, cache_kwargs):
                self.k = k if self.k is None else torch.cat((self.k, k), dim=2)
                self.v = v if self.v is None else torch.cat((self.v, v), dim=2)
                return self.k, self.v

        for depth in ("rope", "attention"):
            with self.subTest(depth=depth):
                model = rm.build("mistral")
                layer = model.model.layers[1]
                length = 6
                x = torch.randn(2, length, model.model.hidden_size, generator=torch.Generator().manual_seed(4))
                cos, sin = model.model.rotary_emb(x, torch.arange(length)[None].expand(2, -1))
                with torch.no_grad():
                    expected = layer.self_attn(layer.input_layernorm(x), (cos, sin), rm.causal_mask(length, x.dtype))[0]
                dnp.apply(model, self._deep_plan("mistral", depth), verify=False)
                self.assertIsInstance(layer.input_layernorm, nn.Identity)
                cache = ListCache()
                with torch.no_grad():
                    prefill = layer.self_attn(x[:, :-1], (cos[:, :-1], sin[:, :-1]), rm.causal_mask(length - 1, x.dtype), past_key_values=cache)[0]
                    step = layer.self_attn(x[:, -1:], (cos[:, -1:], sin[:, -1:]), None, past_key_values=cache)[0]
                torch.testing.assert_close(torch.cat((prefill, step), dim=1), expected, rtol=1e-5, atol=1e-5)

    def test_a_deep_depth_with_the_scale_dropped_fails_verification(self):
        real = dnp._deferred_attention_forward

        def no_scale(attention, depth, statistic, eps):
            return real(attention, depth, lambda x, e: torch.ones_like(statistic(x, e)), eps)

        dnp._deferred_attention_forward = no_scale
        try:
            model = rm.build("llama")
            saved = snapshot(model)
            with self.assertRaises(dnp.PatchVerificationError) as raised:
                dnp.apply(model, self._deep_plan("llama", "rope"))
            self.assertIn("attn-norm at model.layers.", str(raised.exception))
            assert_state_equal(self, model, saved)
            self.assertNotIn("forward", model.model.layers[0].self_attn.__dict__)
        finally:
            dnp._deferred_attention_forward = real

    def test_fallbacks_to_linear_depth_say_why(self):
        cases = {
            "qwen2": "bias",
            "qwen3": "q_norm/k_norm",
            "phi3": "fused",
            "gpt_neox": "LayerNorm",
        }
        for family, why in cases.items():
            with self.subTest(family=family):
                model = rm.build(family)
                result = dnp.apply(model, self._deep_plan(family, "rope"))
                attn = [e for e in result["applied"] if e["site"] == "attn-norm"][0]
                self.assertEqual(attn["depth"], "linear")
                self.assertEqual(attn["planned_depth"], "rope")
                self.assertIn(why, attn["fallback"])
        model = rm.build("llama")
        down = copy.deepcopy(PLANS["llama"])
        down["sites"][1]["depth"] = "down"
        mlp = [e for e in dnp.apply(model, down)["applied"] if e["site"] == "mlp-norm"][0]
        self.assertEqual(mlp["depth"], "linear")
        self.assertIn("ReLU", mlp["fallback"])


class RefusalTest(unittest.TestCase):
    def test_an_unsupported_family_raises_and_changes_nothing(self):
        model = rm.build("llama")
        saved = snapshot(model)
        with self.assertRaisesRegex(dnp.UnsupportedModelError, "'falcon_mamba'"):
            dnp.apply(model, dict(PLANS["llama"], family="falcon_mamba"))
        with self.assertRaisesRegex(dnp.UnsupportedModelError, "model_type is 'llama'"):
            dnp.apply(model, PLANS["gpt2"])
        partial = copy.deepcopy(PLANS["llama"])
        partial["sites"][0]["linears"] = ["q_proj", "k_proj"]  # v_proj would read an unnormalized input
        with self.assertRaisesRegex(dnp.UnsupportedModelError, "attn-norm"):
            dnp.apply(model, partial)
        missing = copy.deepcopy(PLANS["llama"])
        missing["sites"][1]["layers"] = [0, 1, 7]
        with self.assertRaisesRegex(dnp.UnsupportedModelError, "layer 7"):
            dnp.apply(model, missing, verify=False)
        assert_state_equal(self, model, saved)
        self.assertIsInstance(model.model.layers[0].input_layernorm, rm.RMSNorm)

    def test_a_second_apply_and_a_wrong_tolerance_are_refused_by_name(self):
        model = rm.build("llama")
        dnp.apply(model, PLANS["llama"])
        with self.assertRaisesRegex(dnp.UnsupportedModelError, "model.layers.0.input_layernorm: already an identity"):
            dnp.apply(model, PLANS["llama"])
        bf16 = rm.build("llama", dtype=torch.bfloat16)
        saved = snapshot(bf16)
        with self.assertRaisesRegex(ValueError, r"tolerance: .*\(top-1 minimum, mean-KL maximum\), got 0.0001"):
            dnp.apply(bf16, PLANS["llama"], tolerance=1e-4)
        assert_state_equal(self, bf16, saved)

    def test_a_structure_the_patch_does_not_know_raises(self):
        model = rm.build("llama")
        model.model.layers[0].mlp.gate_proj = nn.Conv1d(4, 4, 1)  # not a linear layer
        with self.assertRaisesRegex(dnp.UnsupportedModelError, "model.layers.0.mlp.gate_proj: a Conv1d"):
            dnp.apply(model, PLANS["llama"])

    def test_malformed_plans_name_the_field(self):
        model = rm.build("llama")
        bad_depth = copy.deepcopy(PLANS["llama"])
        bad_depth["sites"][0]["depth"] = "deep"
        cases = [
            (dict(PLANS["llama"], format="v0"), "plan.format"),
            (dict(PLANS["llama"], sites="all"), "plan.sites"),
            (bad_depth, r"plan.sites\[0\].depth"),
        ]
        for bad, field in cases:
            with self.subTest(field=field):
                with self.assertRaisesRegex(dnp.PlanError, field):
                    dnp.apply(model, bad)
        with self.assertRaisesRegex(dnp.PlanError, "no PLAN"):
            dnp.apply(model)


RUNTIME = os.path.join(os.path.dirname(os.path.dirname(HERE)), "python", "deferred_norm_patch.py")


def generated_module(directory, the_plan):
    """What the TypeScript generator writes: a docstring header, PLAN = {...}, then the runtime verbatim."""
    with open(RUNTIME, encoding="utf-8") as f:
        runtime = f.read()
    path = os.path.join(directory, "llama_deferred_norm.py")
    with open(path, "w", encoding="utf-8") as f:
        f.write('"""Deferred-norm patch for reference llama (simulated estimate; hand-written test plan)."""\n')
        f.write(f"PLAN = {pprint.pformat(the_plan)}\n\n")
        f.write(runtime)
    return path


class GeneratedModuleTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def test_the_generated_module_applies_its_own_plan_without_transformers(self):
        path = generated_module(self.dir, PLANS["llama"])
        saved = sys.modules.get("transformers")
        sys.modules["transformers"] = None  # any `import transformers` now raises ImportError
        try:
            spec = importlib.util.spec_from_file_location("llama_deferred_norm", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        finally:
            if saved is None:
                del sys.modules["transformers"]
            else:
                sys.modules["transformers"] = saved
        self.assertEqual(module.PLAN, PLANS["llama"])
        model = rm.build("llama")
        result = module.apply(model)
        self.assertTrue(result["verified"]["passed"])
        report = module.format_report(result)
        self.assertIn("\nattn-norm  linear    model.layers.0.input_layernorm → model.layers.0.self_attn.q_proj,", report)
        self.assertIn("\nsoftmax    skipped   -: PyTorch SDPA", report)
        self.assertIn("passed", report)

    def test_the_command_line_names_what_is_missing(self):
        path = generated_module(self.dir, PLANS["llama"])
        run = lambda *args: subprocess.run([sys.executable, path, *args], capture_output=True, text=True, timeout=60)
        shown = run("--help")
        self.assertEqual(shown.returncode, 0)
        self.assertIn("--no-verify", shown.stdout)
        missing = run(os.path.join(self.dir, "no-such-model"))
        self.assertEqual(missing.returncode, 2)
        self.assertIn(os.path.join(self.dir, "no-such-model", "config.json") + ": not found", missing.stderr)
        bare = subprocess.run([sys.executable, RUNTIME, self.dir], capture_output=True, text=True, timeout=60)
        self.assertEqual(bare.returncode, 2)
        self.assertIn("no PLAN", bare.stderr)
        if importlib.util.find_spec("transformers") is None:
            folder = os.path.join(self.dir, "model")
            os.mkdir(folder)
            shutil.copy(rm.CONFIGS["llama"], os.path.join(folder, "config.json"))
            without = run(folder)
            self.assertEqual(without.returncode, 2)
            self.assertIn("needs the `transformers` package", without.stderr)


@unittest.skipUnless(torch.cuda.is_available(), "needs a CUDA device (the statistic's second stream)")
class CudaTest(unittest.TestCase):
    def test_the_statistic_on_a_second_stream_gives_the_same_output(self):
        g = torch.Generator().manual_seed(5)
        x = torch.randn(64, 256, generator=g) * 3 + 1
        weight, bias = torch.randn(512, 256, generator=g), torch.randn(512, generator=g)
        for kind in ("rmsnorm", "layernorm"):
            with self.subTest(kind=kind):
                cpu = dnp.DeferredLinear(weight, bias, statistic=kind, eps=1e-5)(x)
                layer = dnp.DeferredLinear(weight.cuda(), bias.cuda(), statistic=kind, eps=1e-5)
                torch.testing.assert_close(layer(x.cuda()).cpu(), cpu, rtol=1e-4, atol=1e-4)

    def test_families_on_cuda(self):
        for family in ("llama", "gpt2"):
            for dtype, check in ((torch.float32, check_fp32), (torch.bfloat16, check_low_precision)):
                with self.subTest(family=family, dtype=dtype):
                    model = rm.build(family, dtype=dtype).cuda()
                    ids = dnp.example_batch(model, seed=1)
                    before = logits(model, ids)
                    self.assertTrue(dnp.apply(model, PLANS[family])["verified"]["passed"])
                    check(self, before, logits(model, ids))


def textbook(x, gamma, beta, eps, weight, bias, kind, transposed):
    """Normalize, then multiply: the order the deferred linear must reproduce."""
    if kind == "layernorm":
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        h = (x - mu) / torch.sqrt(var + eps) * gamma + beta
    else:
        h = x / torch.sqrt((x**2).mean(-1, keepdim=True) + eps) * gamma
    y = h @ weight if transposed else h @ weight.T
    return y if bias is None else y + bias


class Layer:
    """A stand-in with the attributes fold_norm_into_linear reads (weight, bias)."""

    def __init__(self, weight, bias):
        self.weight, self.bias = weight, bias


class DeferredLinearPropertyTest(unittest.TestCase):
    def test_matches_normalize_then_multiply_in_float64(self):
        rng = random.Random(17)
        for case in range(150):
            n, out, rows = rng.randint(1, 48), rng.randint(1, 24), rng.randint(1, 6)
            kind = rng.choice(["rmsnorm", "layernorm"])
            transposed = rng.random() < 0.5
            eps = 10 ** rng.uniform(-8, 0)
            g = torch.Generator().manual_seed(case)
            x = torch.randn(rows, n, generator=g, dtype=torch.float64) * 10 ** rng.uniform(-2, 2) + rng.uniform(-3, 3)
            gamma = torch.randn(n, generator=g, dtype=torch.float64)
            beta = torch.randn(n, generator=g, dtype=torch.float64) if kind == "layernorm" else None
            weight = torch.randn(*((n, out) if transposed else (out, n)), generator=g, dtype=torch.float64)
            bias = torch.randn(out, generator=g, dtype=torch.float64) if rng.random() < 0.5 else None
            expected = textbook(x, gamma, 0 if beta is None else beta, eps, weight, bias, kind, transposed)
            layer = Layer(weight, bias)
            w, b = fold_with_layout(layer, gamma, beta, kind, transposed)
            deferred = dnp.DeferredLinear(w, b, statistic=kind, eps=eps, transposed=transposed)
            with self.subTest(case=case, n=n, kind=kind, transposed=transposed, eps=eps):
                torch.testing.assert_close(deferred(x), expected, rtol=1e-9, atol=1e-9 * expected.abs().max().item())


def fold_with_layout(layer, gamma, beta, kind, transposed):
    if not transposed:
        return dnp.fold_norm_into_linear(layer, gamma, beta, kind)
    conv = rm.Conv1D(layer.weight.shape[1], layer.weight.shape[0]).double()
    with torch.no_grad():
        conv.weight.copy_(layer.weight)
        if layer.bias is None:
            conv.bias = None
        else:
            conv.bias.copy_(layer.bias)
    return dnp.fold_norm_into_linear(conv, gamma, beta, kind)


if __name__ == "__main__":
    unittest.main()
