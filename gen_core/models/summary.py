"""A Keras-style layer table (layer, output shape, parameters), like Keras's ``model.summary()``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LayerRow:
    part: str  # "encoder", "decoder/generator" or "discriminator"
    layer: str  # dotted module path and type, e.g. "decoder.net.0 (ConvTranspose2d)"
    output_shape: tuple[int, ...]  # without the batch dimension
    parameters: int


@dataclass
class LayerSummary:
    rows: list[LayerRow]
    total_parameters: int
    trainable_parameters: int

    def as_records(self) -> list[dict]:
        return [{"part": r.part, "layer": r.layer, "output shape": str(r.output_shape), "parameters": r.parameters}
                for r in self.rows]

    def to_text(self) -> str:
        lines = [f"{'Layer (type)':<48}{'Output Shape':<22}{'Param #':>10}"]
        for row in self.rows:
            lines.append(f"{row.layer:<48}{str(row.output_shape):<22}{row.parameters:>10,}")
        lines += [f"Total params: {self.total_parameters:,}", f"Trainable params: {self.trainable_parameters:,}"]
        return "\n".join(lines)


def _is_leaf(module: nn.Module) -> bool:
    return not any(True for _ in module.children())


@torch.no_grad()
def layer_summary(model) -> LayerSummary:
    """Run one dummy image (and one latent) through the model and record each leaf layer."""
    rows: list[LayerRow] = []
    part = {"name": ""}
    handles = []
    for name, module in model.named_modules():
        if name and _is_leaf(module):
            def hook(mod, _inputs, output, name=name):
                params = sum(p.numel() for p in mod.parameters(recurse=False))
                rows.append(LayerRow(part["name"], f"{name} ({type(mod).__name__})", tuple(output.shape[1:]), params))
            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        image = torch.zeros(1, *model.image_shape, device=model.device)
        if model.has_encoder:
            part["name"] = "encoder"
            model.encode(image)
        part["name"] = "decoder/generator"
        model.decode(torch.zeros(1, model.latent_dim, device=model.device))
        if hasattr(model, "discriminator"):
            part["name"] = "discriminator"
            model.discriminator(image)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return LayerSummary(rows, total, trainable)
