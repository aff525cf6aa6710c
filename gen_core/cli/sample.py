"""``python -m gen_core sample RUN``: draw samples from a saved run into a file.

``python -m gen_core sample RUN --sampler gmm --class 3 --components 10 --n 64 --out x.png``
ends here: load the run, fit the chosen sampler on the encoded training set when it needs one,
decode ``n`` draws and write them as a PNG grid, or as a float32 ``.npy`` array (N, C, H, W) in
[0, 1] for scripts that want the numbers.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from gen_core.atomic import check_output_file, write_atomic
from gen_core.cli.flags import add_sampler_flags, run_path, sampler_params
from gen_core.device import pick_device
from gen_core.errors import ModelConfigError, SamplerError
from gen_core.images import make_grid_image, save_png_atomic
from gen_core.latent import encode_dataset
from gen_core.limits import check_grid, check_image_batch
from gen_core.progress import ProgressCallback
from gen_core.run import checkpoint
from gen_core.run.start import dataset_for_run
from gen_core.sampling import (PRIOR, SAMPLER_NAMES, check_temperature, draw_images, fit_sampler, sampler_settings,
                               sampler_unusable_reason)

OUTPUT_SUFFIXES = (".png", ".npy")


def resolve_class(class_names, value) -> int | None:
    """A class given as its id (3, "3") or its name ("cat") as the id the sampler uses."""
    if value is None or value == "":
        return None
    names = [str(name) for name in class_names]
    text = str(value).strip()
    if text in names:  # a name wins, so digit datasets whose names are "0".."9" read naturally
        return names.index(text)
    if text.lstrip("-").isdigit() and 0 <= int(text) < max(len(names), 1):
        return int(text)
    choices = ", ".join(names) if names else "none (this dataset has no labels)"
    raise SamplerError(f"There is no class {value!r}; the classes are {choices}.")


def _check_request(sampler: str, n: int, out: Path) -> None:
    if sampler not in SAMPLER_NAMES:
        raise SamplerError(f"Unknown sampler {sampler!r}; choose one of {', '.join(SAMPLER_NAMES)}.")
    if int(n) < 1:
        raise SamplerError(f"Ask for at least one sample; got n = {n}.")
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise SamplerError(f"The output file must end in .png (an image grid) or .npy (an array); got {out.name!r}.")
    check_output_file(out)  # before any work: a file in the way or no permission fails now


def _check_size(n: int, image_shape, out: Path) -> None:
    """Refused up front, with the limit: ``n`` images held in memory, and a grid of them."""
    check_image_batch(int(n), image_shape, "samples")
    if out.suffix.lower() == ".png":
        check_grid(int(n), image_shape)


def _fitted_sampler(run, sampler: str, class_label, settings: dict, progress):
    """Fit on the encoded training set; with a class chosen, only that class is fitted."""
    unusable = sampler_unusable_reason(run.family, sampler)
    if unusable:
        raise ModelConfigError(f"{run.name}: {unusable} (--sampler prior)")
    dataset = dataset_for_run(run.config)
    label = resolve_class(dataset.class_names, class_label)
    labels = dataset.train_labels
    if label is not None and labels is None:
        raise SamplerError("This dataset has no class labels, so no class can be chosen.")
    latents = encode_dataset(run.model, dataset.train_images)
    if label is not None:
        keep = (labels.cpu() == label)
        latents, labels = latents[keep], labels.cpu()[keep]
        if len(latents) == 0:
            raise SamplerError(f"Class {class_label} has no training images.")
    return fit_sampler(sampler, latents, labels, progress=progress, **settings), label


def write_samples(images: torch.Tensor, out: Path) -> Path:
    """A PNG grid (square-ish) or a float32 .npy array, written atomically."""
    if out.suffix.lower() == ".npy":
        array = images.detach().cpu().float().clamp(0, 1).numpy().astype(np.float32, copy=False)

        def save(path: Path) -> None:
            with open(path, "wb") as file:  # straight to the file: no second copy in memory
                np.save(file, array)
        write_atomic(out, save)
        return out
    return save_png_atomic(make_grid_image(images, nrow=math.ceil(math.sqrt(len(images)))), out)


def sample_to_file(run_dir, sampler: str = "prior", class_label=None, components: int = 10,
                   covariance: str = "full", n: int = 64, seed: int = 0, out="samples.png",
                   noise_std: float = 0.5, covariance_scale: float = 1.0, component: int | None = None,
                   device: str = "cpu", temperature: float = 1.0,
                   progress: ProgressCallback | None = None) -> Path:
    """Draw ``n`` images from a run with the named sampler and write them to ``out``.

    ``class_label`` (an id or a class name) needs a class-aware sampler; the prior has none.
    ``temperature`` s draws the prior's codes from N(0, s^2 I). Returns the path written.
    """
    out = Path(out)
    _check_request(sampler, n, out)
    check_temperature(temperature, None if sampler == PRIOR else sampler)
    run = checkpoint.load_run(Path(run_dir), device=pick_device(device))
    _check_size(n, run.model.image_shape, out)
    fitted, label = None, None  # the prior: the model's own code distribution, nothing to fit
    if sampler == PRIOR:
        if class_label not in (None, ""):
            raise SamplerError("The prior has no classes; choose --sampler gmm, gaussian or perturb to pick one.")
    else:
        settings = sampler_settings(sampler, {"n_components": int(components), "covariance_type": covariance,
                                              "seed": int(seed), "noise_std": float(noise_std),
                                              "covariance_scale": float(covariance_scale), "component": component})
        fitted, label = _fitted_sampler(run, sampler, class_label, settings, progress)
    return write_samples(draw_images(run.model, int(n), int(seed), fitted, label, temperature=temperature), out)


def add_sample_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="the run: its name in the runs folder, or its path")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="a .png grid, or .npy for float32 (N, C, H, W) in [0, 1]")
    p.add_argument("--class", dest="class_label", help="draw only this class, by id or name (class samplers)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="the prior's codes from N(0, s^2 I) with s this value, 0 to 1.5 (default 1)")
    add_sampler_flags(p)


def run_sample(args) -> int:
    params = sampler_params(args)
    path = sample_to_file(run_path(args.run), sampler=args.sampler, class_label=args.class_label,
                          components=params.get("n_components", 10), covariance=params.get("covariance_type", "full"),
                          noise_std=params.get("noise_std", 0.5), covariance_scale=params.get("covariance_scale", 1.0),
                          component=params.get("component"),
                          n=args.n, seed=args.seed, out=args.out, temperature=args.temperature)
    print(f"Wrote {args.n} samples to {path}")
    return 0
