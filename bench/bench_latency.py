"""Latency of the app's live paths on the embedded MNIST sample.

  slider move      decode one latent to a display-ready PIL image (what a Latent-sliders slider does)
  page rerun       a whole rerun of the Latent sliders page after a slider change (AppTest, no browser)
  PCA              encode the 500-image test set and fit the latent PCA
  GMM fit          one Gaussian mixture per class on the 4,500 encoded training images, K=10 and K=250

The model is a 5-hidden-layer autoencoder (32-d code) trained briefly here, unless
--run points at an existing run. Goals on a 2-core CPU: slider move < 50 ms; K=250 fit < 30 s.

Usage: python bench/bench_latency.py [--run RUN] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from gen_core.compute import apply_thread_policy  # noqa: E402
from gen_core.device import device_label  # noqa: E402
from gen_core.latent import (  # noqa: E402
    LatentPCA,
    decode_to_pil,  # noqa: E402
    encode_dataset,
)
from gen_core.models.presets import PRESETS  # noqa: E402
from gen_core.run import checkpoint  # noqa: E402
from gen_core.run.start import dataset_for_run, prepare_training  # noqa: E402
from gen_core.sampling import ClassMixtureSampler  # noqa: E402
from gen_core.training import TrainConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed(function, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return times


def train_model(root: Path) -> Path:
    preset = PRESETS["AE, 5 hidden layers"]
    trainer = prepare_training(preset.family, preset.model, "mnist5k", TrainConfig(epochs=3, device="cpu"),
                               root=root, name="bench-ae5")
    trainer.fit()
    return trainer.run_dir


def page_rerun_ms(run_dir: Path, repeats: int) -> list[float]:
    import logging

    from streamlit.testing.v1 import AppTest

    logging.getLogger("streamlit").setLevel(logging.ERROR)  # AppTest's bare-mode warnings are noise here
    os.environ["GEN_CORE_CHECKPOINTS"] = str(run_dir.parent)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["active_run"] = str(run_dir)
    at.switch_page("app_pages/latent_sliders.py")
    at.run()  # first run loads and caches the model, dataset and PCA
    sliders = [s for s in at.slider if s.key and s.key.startswith("sliders_")]
    if not sliders:
        raise SystemExit("no latent slider found on the Latent sliders page")
    slider = sliders[0]
    low, high = slider.min, slider.max
    times = []
    for index in range(repeats):
        value = low + (high - low) * ((index % 9) + 1) / 10
        slider.set_value(value)
        start = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - start) * 1000)
        if at.exception:
            raise SystemExit(f"page raised: {at.exception}")
        slider = next(s for s in at.slider if s.key == slider.key)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    # timed as the web server runs these: one thread (the project's thread policy for the server)
    apply_thread_policy(role="server")
    torch.set_grad_enabled(True)
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = args.run or train_model(Path(scratch))
        run = checkpoint.load_run(run_dir)
        model = run.model
        dataset = dataset_for_run(run.config)
        z = torch.zeros(1, model.latent_dim)
        decode_to_pil(model, z, upscale=10)  # warm-up
        slider = timed(lambda: decode_to_pil(model, z + torch.randn_like(z), upscale=10), 200)
        rerun = page_rerun_ms(run_dir, 20)
        pca = timed(lambda: LatentPCA().fit(encode_dataset(model, dataset.test_images)), 5)
        train_latents = encode_dataset(model, dataset.train_images)
        labels = dataset.train_labels
        gmm10 = timed(lambda: ClassMixtureSampler(10, "full").fit(train_latents, labels), 3)
        gmm250 = timed(lambda: ClassMixtureSampler(250, "tied").fit(train_latents, labels), 3)
    result = {
        "device": device_label(torch.device("cpu")),
        "slider_move_ms": {"median": statistics.median(slider), "p95": sorted(slider)[int(0.95 * len(slider))]},
        "page_rerun_ms": {"median": statistics.median(rerun), "p95": sorted(rerun)[int(0.95 * len(rerun))]},
        "pca_encode_and_fit_ms": {"median": statistics.median(pca)},
        "gmm_fit_k10_full_s": statistics.median(gmm10) / 1000,
        "gmm_fit_k250_tied_s": statistics.median(gmm250) / 1000,
    }
    print(f"device: {result['device']}")
    print(f"slider move (decode 1 latent -> PIL, x10): median {result['slider_move_ms']['median']:.2f} ms, "
          f"p95 {result['slider_move_ms']['p95']:.2f} ms   (goal < 50 ms)")
    print(f"Latent sliders page rerun (AppTest):        median {result['page_rerun_ms']['median']:.0f} ms, "
          f"p95 {result['page_rerun_ms']['p95']:.0f} ms")
    print(f"PCA of the encoded test set (500 images):   median {result['pca_encode_and_fit_ms']['median']:.1f} ms")
    print(f"per-class GMM fit, K=10 full:               {result['gmm_fit_k10_full_s']:.2f} s")
    print(f"per-class GMM fit, K=250 tied:              {result['gmm_fit_k250_tied_s']:.2f} s   (goal < 30 s)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
