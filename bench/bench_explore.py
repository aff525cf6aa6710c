"""Latency of the exploring extras on the embedded MNIST sample's 500 test images.

  projector export   encode the test set and build the Embedding Projector's four files and their zip
                     (what `export-projector` writes and the Latent map's download button serves)
  posterior view     one test image's posterior, eight draws decoded, its ellipse on the map
  neighbour query    the 8 nearest of the 4,500 training images to one code (latent space) and to
                     one image (pixel space), Euclidean
  latent arithmetic  the test set's class means, then one image's code + s (mean of 9 - mean of 4) for
                     four s, decoded (the Latent map's arithmetic strip); and two class directions
                     orthonormalised (what class-direction sliders start from)
  drawing to marked point
                     a 280x280 RGBA drawing from the pad framed like the training digits
                     (frame_drawing), encoded, and projected onto the latent map: where its star goes
  t-SNE, UMAP        the test set's codes projected to 2-D with the Latent map's default settings
                     (perplexity 30; 15 neighbours, minimum distance 0.1); UMAP's first call in a
                     process, which compiles its numba code, is timed on its own
  mixture criteria   BIC and AIC of a full-covariance mixture for K = 1..20 (as many as the codes
                     support) on the 450 training codes of digit 7: the Class sampler's inspector

The model is an MLP VAE with a 32-d latent trained briefly here, unless --run points at a run.

Usage: python bench/bench_explore.py [--run RUN] [--repeats N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from gen_core.compute import apply_thread_policy  # noqa: E402
from gen_core.device import device_label  # noqa: E402
from gen_core.images import frame_drawing  # noqa: E402
from gen_core.latent import (  # noqa: E402
    arithmetic_images,
    build_latent_map,
    class_mean_table,
    decode_latents,
    encode_dataset,
    image_posterior,
    latent_neighbours,
    orthonormal_directions,
    pixel_neighbours,
    posterior_codes,
    posterior_ellipse,
    project_to_map,
    project,
    projector_export,
)
from gen_core.run import checkpoint  # noqa: E402
from gen_core.sampling import information_criteria  # noqa: E402
from gen_core.run.start import dataset_for_run, prepare_training  # noqa: E402
from gen_core.training import TrainConfig  # noqa: E402
from bench_latency import timed  # noqa: E402  (this folder is on the path when run as a script)




def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {"median_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2), "repeats": len(ordered)}


def pad_drawing() -> np.ndarray:
    """A "7" drawn off-centre on a 280x280 pad, white on black, as the pad sends it (RGBA, 8 bits)."""
    pad = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(pad).line([(120, 30), (250, 30), (170, 250)], fill=(255, 255, 255, 255), width=22)
    return np.asarray(pad)


def train_vae(root: Path) -> Path:
    trainer = prepare_training("vae", {"hidden": (512, 256), "latent_dim": 32}, "mnist5k",
                               TrainConfig(epochs=2, device="cpu"), root=root, name="bench-vae32")
    trainer.fit()
    return trainer.run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="an existing VAE run folder (default: train one briefly)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    # timed as the web server runs these: one thread (the project's thread policy for the server)
    apply_thread_policy(role="server")
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(args.run) if args.run else train_vae(Path(scratch))
        run = checkpoint.load_run(run_dir)
        dataset = dataset_for_run(run.config)
        model, test_images = run.model.eval(), dataset.test_images
        latent_map = build_latent_map(model, test_images, dataset.test_labels, dataset.class_names)
        train_latents = encode_dataset(model, dataset.train_images)

        def export() -> bytes:
            latents = encode_dataset(model, test_images)
            return projector_export(latents, test_images, dataset.test_labels, dataset.class_names).zip_bytes()

        def posterior_view() -> None:
            posterior = image_posterior(model, test_images[7])
            decode_latents(model, posterior_codes(posterior, 8, seed=7))
            posterior_ellipse(posterior, latent_map).outline(1.0)

        def neighbour_query() -> None:
            latent_neighbours(latent_map.latents[7], train_latents, dataset.train_labels, k=8)
            pixel_neighbours(test_images[7], dataset.train_images, dataset.train_labels, k=8)

        def arithmetic() -> None:
            table = class_mean_table(latent_map.latents, latent_map.labels, latent_map.class_names)
            arithmetic_images(model, latent_map.latents[7], table, 4, 9)
            orthonormal_directions([table.direction(4, 9), table.direction(1, 7)])

        drawn = pad_drawing()

        def drawing_to_marked_point() -> None:
            image = frame_drawing(drawn, model.image_shape)
            project_to_map(encode_dataset(model, image[None]), latent_map)

        def projection(method: str):
            return lambda: project(latent_map.latents, method, seed=0)

        umap_first_call = timed(projection("umap"), 1)
        sevens = train_latents[dataset.train_labels == 7].numpy()

        def mixture_criteria() -> dict:
            return information_criteria(sevens, range(1, 21), "full")

        criteria = mixture_criteria()
        results = {"device": device_label("cpu"), "test_images": len(test_images),
                   "train_images": len(dataset.train_images), "latent_dim": model.latent_dim,
                   "zip_bytes": len(export()),
                   "projector_export": summary(timed(export, max(3, args.repeats // 4))),
                   "posterior_view": summary(timed(posterior_view, args.repeats)),
                   "neighbour_query": summary(timed(neighbour_query, args.repeats)),
                   "latent_arithmetic": summary(timed(arithmetic, args.repeats)),
                   "drawing_to_marked_point": summary(timed(drawing_to_marked_point, args.repeats)),
                   "tsne_2d": summary(timed(projection("tsne"), args.repeats)),
                   "umap_2d_first_call": summary(umap_first_call),
                   "umap_2d": summary(timed(projection("umap"), args.repeats)),
                   "mixture_criteria": {**summary(timed(mixture_criteria, max(3, args.repeats // 8))),
                                        "codes": len(sevens), "ks_fitted": len(criteria["bic"]),
                                        "best_k": criteria["best_k"]}}
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
