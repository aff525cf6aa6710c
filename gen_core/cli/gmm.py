"""``python -m gen_core gmm RUN --class C --k 1-20 [--json]``: how many Gaussians a class needs.

Fits a Gaussian mixture to the encoded training images of one class for each K and prints the
BIC and AIC of each (lower is better; BIC penalises components more) and the K with the lowest
BIC. ``sample RUN --sampler gmm --components K --component J`` then draws from one of them.
"""

from __future__ import annotations

import argparse
import json

from gen_core.cli.flags import run_path
from gen_core.cli.sample import resolve_class
from gen_core.errors import GenCoreError, SamplerError
from gen_core.latent import encode_dataset
from gen_core.run import checkpoint
from gen_core.run.start import dataset_for_run
from gen_core.sampling import COVARIANCE_TYPES, MAX_COMPONENTS, information_criteria, sampler_unusable_reason


def parse_ks(text: str) -> list[int]:
    """"1-20", "1,2,5" or "3-6,10" as the numbers of components to compare."""
    ks: set[int] = set()
    try:
        for part in str(text).replace(" ", "").split(","):
            low, _, high = part.partition("-")
            first, last = int(low), int(high or low)
            if not 1 <= first <= last <= MAX_COMPONENTS:
                raise ValueError
            ks.update(range(first, last + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k takes numbers of components from 1 to {MAX_COMPONENTS}, like 1-20 or "
                                         f"1,2,5; got {text!r}") from None
    return sorted(ks)


def add_gmm_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="the run: its name in the runs folder, or its path")
    p.add_argument("--class", dest="class_label", required=True, help="the class, by id or name")
    p.add_argument("--k", type=parse_ks, default=parse_ks("1-10"), help="numbers of components to compare (1-10)")
    p.add_argument("--covariance", choices=COVARIANCE_TYPES, default="full")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run_gmm(args) -> int:
    run = checkpoint.load_run(run_path(args.run))
    unusable = sampler_unusable_reason(run.family, "gmm")
    if unusable:
        raise GenCoreError(f"{run.name}: {unusable}")
    dataset = dataset_for_run(run.config)
    if dataset.train_labels is None:
        raise SamplerError("This dataset has no class labels, so no class can be chosen.")
    label = resolve_class(dataset.class_names, args.class_label)
    codes = encode_dataset(run.model, dataset.train_images[dataset.train_labels.cpu() == label])
    result = information_criteria(codes.numpy(), args.k, args.covariance, args.seed)
    if args.json:
        print(json.dumps({"bic": {str(k): v for k, v in result["bic"].items()},
                          "aic": {str(k): v for k, v in result["aic"].items()},
                          "best_k": result["best_k"], "skipped": result["skipped"]}))
        return 0
    print(f"{run.name}, class {args.class_label}: {len(codes)} codes, {args.covariance} covariances")
    for k in result["bic"]:
        mark = "  <- lowest BIC" if k == result["best_k"] else ""
        print(f"  K = {k:>3}   BIC {result['bic'][k]:>12.1f}   AIC {result['aic'][k]:>12.1f}{mark}")
    if result["skipped"]:
        print(f"  not fitted (too few codes for them): K = {', '.join(map(str, result['skipped']))}")
    return 0
