"""Standard FID (Inception v3 features) through torchmetrics, only when the weights are local.

torchmetrics' FrechetInceptionDistance builds torch-fidelity's Inception, which downloads its
weights on first use. The app runs offline, so the file is looked up in the torch hub cache
first and FID is reported as unavailable (with where to put the file) when it is not there;
nothing here ever starts a download.
"""

from __future__ import annotations

from pathlib import Path

import torch

# The file torch-fidelity's URL_INCEPTION_V3 names; torch.hub keeps downloads under <hub>/checkpoints/.
INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"


def inception_weights_location() -> Path:
    """Where torch.hub would keep the weights ($TORCH_HOME/hub/checkpoints/...)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE


def inception_weights_path() -> Path | None:
    """The local weights file, or None when it is absent (nothing is downloaded)."""
    path = inception_weights_location()
    return path if path.is_file() else None


def inception_unavailable_reason() -> str | None:
    """None when standard FID can be computed here, else a sentence saying why not."""
    path = inception_weights_path()
    if path is None:
        return (f"Inception v3 weights are not on this machine (looked for {inception_weights_location()}); "
                "standard FID needs them and nothing is downloaded. The feature-classifier Fréchet "
                "distance is reported instead.")
    try:
        # The file is a pickle. Loading it with weights_only=True first proves it holds plain
        # tensors only; torch-fidelity then reloads the same bytes (it does not pass weights_only).
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any failure means: do not hand this file to a full unpickler
        return f"{path} is not a plain tensor file ({type(error).__name__}); standard FID skipped."
    return None


def _as_rgb(images: torch.Tensor) -> torch.Tensor:
    images = images.float().clamp(0, 1)
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


@torch.no_grad()
def inception_fid(real: torch.Tensor, generated: torch.Tensor, device: torch.device | str = "cpu",
                  batch_size: int = 50, feature: int = 2048) -> float:
    """Fréchet Inception Distance (Heusel et al. 2017) via torchmetrics, 2048-d pool features.

    The Fréchet distance (see ``distances.frechet_distance``) between Inception v3 pool3
    features of real and generated images, resized to 299x299 inside the network; grey images
    are repeated to three channels. In squared feature units; lower is better. Values depend on
    the sample count (biased upwards for small sets), so compare runs at equal counts. Standard
    FID uses ``feature=2048``; 64, 192 and 768 pick torch-fidelity's earlier layers.
    Call ``inception_unavailable_reason()`` first: this raises if the weights are missing.
    """
    reason = inception_unavailable_reason()
    if reason is not None:
        raise FileNotFoundError(reason)
    from torchmetrics.image.fid import FrechetInceptionDistance  # imports torch-fidelity (slow)

    metric = FrechetInceptionDistance(feature=feature, normalize=True,
                                      feature_extractor_weights_path=str(inception_weights_path())).to(device)
    for images, is_real in ((real, True), (generated, False)):
        for batch in images.split(batch_size):
            metric.update(_as_rgb(batch).to(device), real=is_real)
    return float(metric.compute())
