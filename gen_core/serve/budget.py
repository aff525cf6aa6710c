"""What a student's job costs, estimated before it is queued, and the budgets it must fit.

Counting epochs and image sides is not enough: a model of 163 million parameters, or a batch of
8,192 large images, stays within both and still holds the only job slot for hours or takes
gigabytes. So a job is costed from its settings, with the model built on PyTorch's "meta" device
(shapes only, no memory, milliseconds):

* parameters;
* activations of one batch: every layer's output for the batch, kept for the backward pass, with
  its gradient (float32), an estimate of the memory training needs beyond the weights;
* training images times epochs, the work the job does.

The operator's limits (gen_core.serve.classroom.ClassroomSettings) bound each, and the job queue
stops a job at its wall-clock limit and a worker past its memory limit (gen_core.serve.jobs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gen_core.errors import GenCoreError
from gen_core.limits import LimitError, gib
from gen_core.models import build_model, layer_summary

_KEPT_PER_OUTPUT = 3  # float32 copies per layer output: the output, its gradient, the optimiser's view


@dataclass(frozen=True)
class JobCost:
    parameters: int
    batch_bytes: int
    image_epochs: int


def estimate_cost(family: str, model_settings: dict, image_shape, batch_size: int, train_images: int,
                  epochs: int) -> JobCost:
    """Cost a job from its settings without allocating it (LimitError for a model no one can build)."""
    try:
        with torch.device("meta"):
            model = build_model(family, **{**model_settings, "image_shape": tuple(int(v) for v in image_shape)})
            summary = layer_summary(model)
    except GenCoreError:
        raise
    except (RuntimeError, OverflowError, TypeError, ValueError, MemoryError, NotImplementedError):
        raise LimitError("These settings ask for layers larger than any model this server can build.") from None
    per_image = math.prod(int(v) for v in image_shape) + sum(math.prod(row.output_shape) for row in summary.rows)
    return JobCost(parameters=summary.total_parameters,
                   batch_bytes=_KEPT_PER_OUTPUT * 4 * per_image * max(1, int(batch_size)),
                   image_epochs=max(0, int(train_images)) * max(0, int(epochs)))


def budget_problems(cost: JobCost, max_parameters: int, max_batch_bytes: int, max_image_epochs: int) -> list[str]:
    """Each budget ``cost`` goes past, in words that say by how much and what to change."""
    problems = []
    if cost.parameters > max_parameters:
        problems.append(f"the model has {cost.parameters:,} parameters, more than the {max_parameters:,} allowed "
                        "per job here (use fewer or narrower layers)")
    if cost.batch_bytes > max_batch_bytes:
        problems.append(f"one batch would take about {gib(cost.batch_bytes)} to train, more than the "
                        f"{gib(max_batch_bytes)} allowed per job here (use a smaller batch or smaller layers)")
    if cost.image_epochs > max_image_epochs:
        problems.append(f"{cost.image_epochs:,} images x epochs is more than the {max_image_epochs:,} allowed per "
                        "job here (use fewer epochs or fewer images)")
    return problems
