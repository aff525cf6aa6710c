"""Draw the README's real-vs-generated tile figure: held-out tiles, then each model's reconstructions of them
and its samples, one labelled block per model.

    python -m gen_core demos --only demo-tile-vae demo-tile-vae-mse
    python docs/tile_figure.py demo-tile-vae demo-tile-vae-mse     # writes docs/tiles_before_after.png

Every model is shown on the same held-out tiles (the first distinct ones of the first run's test set)
and its samples from the same seed, at their own intensities (no stretch), so a flat square looks flat.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

APP_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(APP_DIR))

from gen_core.cli.flags import run_path  # noqa: E402
from gen_core.images import make_grid_image  # noqa: E402
from gen_core.latent import reconstructions  # noqa: E402
from gen_core.metrics.two_sample import distinct_images  # noqa: E402
from gen_core.run import checkpoint  # noqa: E402
from gen_core.run.start import dataset_for_run  # noqa: E402
from gen_core.sampling import draw_images, prior_description  # noqa: E402

LABEL_HEIGHT = 18


def _block(title: str, rows: list) -> Image.Image:
    """A title line over image rows (each a PIL grid of the same width)."""
    width = max(row.width for row in rows)
    block = Image.new("L", (width, LABEL_HEIGHT + sum(row.height for row in rows)), 255)
    ImageDraw.Draw(block).text((4, 3), title, fill=0)
    top = LABEL_HEIGHT
    for row in rows:
        block.paste(row, (0, top))
        top += row.height
    return block


def tile_figure(runs: list[str], count: int, seed: int, upscale: int) -> Image.Image:
    loaded = [checkpoint.load_run(run_path(run)) for run in runs]
    real = distinct_images(dataset_for_run(loaded[0].config).test_images)[:count]

    def grid(images):
        return make_grid_image(images, nrow=count, upscale=upscale).convert("L")

    blocks = [_block(f"held-out real tiles of {loaded[0].path.name}'s test set", [grid(real)])]
    for run in loaded:
        model = run.config["model"]
        title = (f"{run.path.name}: {run.family}, loss {model.get('loss')}, beta {model.get('beta', 1)}, "
                 f"{model.get('latent_dim')}-d latent, {len(run.history['epochs'])} epochs, "
                 f"samples from {prior_description(run.model)}; "
                 "rows: reconstructions of the tiles above, samples")
        rows = [grid(reconstructions(run.model, real)), grid(draw_images(run.model, count, seed))]
        blocks.append(_block(title, rows))
    figure = Image.new("L", (max(b.width for b in blocks), sum(b.height for b in blocks)), 255)
    top = 0
    for block in blocks:
        figure.paste(block, (0, top))
        top += block.height
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run names in the runs folder, or their paths")
    parser.add_argument("--out", type=Path, default=APP_DIR / "docs" / "tiles_before_after.png")
    parser.add_argument("--count", type=int, default=16, help="tiles per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--upscale", type=int, default=2)
    args = parser.parse_args()
    tile_figure(args.runs, args.count, args.seed, args.upscale).save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
