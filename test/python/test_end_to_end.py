"""Profile, export, apply: the plan the profiler writes (`deferred-norm pytorch`, the built CLI) applied
to the reference model of each family, in real PyTorch.  The config the CLI reads is the reference
model's own (shrunk) config, so the plan's layer indices are the model's.  What must be applied is
counted here from the plan, not from the runtime: one change per deferred norm site per listed layer."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
ROOT = os.path.dirname(os.path.dirname(HERE))
CLI = os.path.join(ROOT, "dist", "cli.js")

import reference_models as rm  # noqa: E402
from test_patch import check_fp32, check_low_precision, logits  # noqa: E402

# Each hardware preset decides differently: dimc defers deep (on the logits), gpu-t4 with PyTorch's eager
# norm is FlashNorm's setting.  Both plans must keep the numbers.
SETTINGS = {
    "dimc": [],
    "gpu-t4-eager": ["--hardware", "gpu-t4", "--set", "kernels.norm=eager", "--phase", "prefill", "--seq", "512", "--batch", "1"],
}


def generate(folder, family, options):
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
        json.dump(rm.load_config(family), f)
    out = os.path.join(folder, f"{family}_patch.py")
    run = subprocess.run(["node", CLI, "pytorch", folder, *options, "--out", out], capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        raise AssertionError(f"deferred-norm pytorch failed ({run.returncode}): {run.stderr}")
    spec = importlib.util.spec_from_file_location(f"{family}_patch", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@unittest.skipUnless(os.path.exists(CLI), "needs the built CLI (npm run build)")
class EndToEndTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def test_every_family_keeps_its_logits_with_the_profilers_plan(self):
        for setting, options in SETTINGS.items():
            for family in rm.CONFIGS:
                with self.subTest(family=family, setting=setting):
                    folder = os.path.join(self.dir, f"{family}-{setting}")
                    os.mkdir(folder)
                    module = generate(folder, family, options)
                    plan = module.PLAN
                    self.assertEqual(plan["family"], family)
                    deferred = [s for s in plan["sites"] if s["decision"] == "defer" and s["kind"] != "softmax"]
                    expected = sorted((s["id"], layer) for s in deferred for layer in s["layers"])
                    for dtype, check in ((torch.float32, check_fp32), (torch.bfloat16, check_low_precision)):
                        model = rm.build(family, dtype=dtype)
                        ids = module.example_batch(model, seed=3)
                        before = logits(model, ids)
                        result = module.apply(model)
                        self.assertTrue(result["verified"]["passed"])
                        applied = sorted((e["site"], _layer(e["module"], plan)) for e in result["applied"])
                        self.assertEqual(applied, expected)
                        depths = {s["id"]: s["depth"] for s in deferred}
                        for entry in result["applied"]:
                            self.assertEqual(entry.get("planned_depth", entry["depth"]), depths[entry["site"]])
                        check(self, before, logits(model, ids))

    def test_a_kept_site_is_reported_skipped_with_the_profilers_reason(self):
        module = generate(self.dir, "gpt_neox", [])
        kept = [s for s in module.PLAN["sites"] if s["decision"] == "keep"]
        self.assertTrue(kept, "the dimc plan for the shrunk Pythia keeps a site (it did when this test was written)")
        result = module.apply(rm.build("gpt_neox"))
        skipped = [e for e in result["skipped"] if e["site"] == kept[0]["id"]]
        self.assertEqual(len(skipped), len(kept[0]["layers"]))
        self.assertIn(kept[0]["reason"], skipped[0]["reason"])


def _layer(path, plan):
    """The decoder-layer index of a module path; the head's is the number of layers."""
    numbers = [int(p) for p in path.split(".") if p.isdigit()]
    return numbers[0] if numbers else rm.LAYERS


if __name__ == "__main__":
    unittest.main()
