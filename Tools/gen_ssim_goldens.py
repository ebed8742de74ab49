#!/usr/bin/env python3
"""SSIM goldens from scikit-image (the reference the restoration papers' tables use):
structural_similarity(..., data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
channel_axis=0) on small seeded images with 8-bit values, written to Tests/Fixtures/metrics/ssim.json
for IRImageTests (ImageMetrics.ssim)."""
import json, os

import numpy as np
from skimage.metrics import structural_similarity

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "metrics", "ssim.json")


def case(name, channels, h, w, seed, noise):
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, h * w).reshape(h, w)
    clean = np.stack([np.roll(ramp, c * 3, axis=1) for c in range(channels)])
    clean = np.clip(clean + 0.15 * rng.standard_normal(clean.shape), 0, 1)
    noisy = np.clip(clean + noise * rng.standard_normal(clean.shape), 0, 1)
    # Values a PNG can hold: k / 255.
    clean, noisy = (np.round(x * 255) / 255 for x in (clean, noisy))
    # The values as irzoo holds them (float32), widened: the golden is for exactly those inputs.
    clean, noisy = (x.astype(np.float32).astype(np.float64) for x in (clean, noisy))
    ssim = structural_similarity(noisy, clean, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, channel_axis=0)
    return {"name": name, "shape": [channels, h, w], "estimate": [round(float(v) * 255) for v in noisy.ravel()],
            "reference": [round(float(v) * 255) for v in clean.ravel()], "ssim": float(ssim)}


cases = [case("rgb", 3, 13, 17, 1, 0.1), case("gray", 1, 11, 11, 2, 0.3), case("rgb-slight", 3, 16, 12, 3, 0.02)]
same = dict(cases[0], name="identical", estimate=cases[0]["reference"])
ref32 = (np.array(same["reference"], dtype=np.float64).reshape(3, 13, 17) / 255).astype(np.float32).astype(np.float64)
same["ssim"] = float(structural_similarity(ref32, ref32, data_range=1.0,
                                           gaussian_weights=True, sigma=1.5, use_sample_covariance=False, channel_axis=0))
cases.append(same)
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"generator": "Tools/gen_ssim_goldens.py", "values": "8-bit levels (divide by 255)", "cases": cases}, f)
    f.write("\n")
print(OUT, [(c["name"], c["ssim"]) for c in cases])
