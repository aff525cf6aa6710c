"""What the Tiles page shows: tile pools, mosaics, coverage maps and the quiz.

The page only lays these out. Keeping the quiz a small seeded state machine here (its rounds drawn
by gen_core.serve.quiz, which the room's quiz shares) means a class can replay the same rounds
(same seed, same tiles, same sides), and the coverage numbers the page
quotes as evidence for "every pixel equally likely to be seen" are tested like any other result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image
from plotly.subplots import make_subplots

from gen_core.data.tiles import TileCutter, TileSource, coverage_counts, expected_coverage
from gen_core.errors import DatasetError
from gen_core.images import make_grid_image, to_pil
from gen_core.serve.quiz import SIDES, QuizRound, draw_round

PLACEMENT_TITLES = {"equal": "Equal-coverage placement", "naive": "Naive placement (uniform corner)"}
PLACEMENT_COLOURS = {"equal": "#1f77b4", "naive": "#ff7f0e"}
MAX_DRAWS = 2_000_000  # a few seconds of counting on a 1411 x 1411 image


# ---------------------------------------------------------------------------- tile pools

def is_tile_run(config: dict) -> bool:
    return (config.get("data") or {}).get("name") == "tiles"


def tile_source_of(dataset) -> TileSource:
    """The whole images behind a tile dataset (its cutter keeps them in memory)."""
    cutter = dataset.resample_train
    if not isinstance(cutter, TileCutter):
        raise DatasetError(f"{dataset.name!r} is not a tile dataset, so it has no whole images.")
    return cutter.source


def held_out_names(dataset) -> list[str]:
    cutter = dataset.resample_train
    return [cutter.source.names[i] for i in cutter.test_indices] if isinstance(cutter, TileCutter) else []


def pick_tiles(pool: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``n`` tiles of ``pool`` in a seeded random order, repeating only when the pool is short."""
    generator = torch.Generator().manual_seed(int(seed))
    if n <= len(pool):
        chosen = torch.randperm(len(pool), generator=generator)[:n]
    else:
        chosen = torch.randint(len(pool), (n,), generator=generator)
    return pool[chosen].float().cpu()


def zoom_factor(tile_size: int, target_pixels: int = 128) -> int:
    """Whole-number nearest-neighbour zoom that shows a tile about ``target_pixels`` wide."""
    return max(1, round(target_pixels / max(1, tile_size)))


def mosaic_image(tiles: torch.Tensor, columns: int, gaps: bool = True, upscale: int = 1) -> Image.Image:
    """Tiles side by side in rows of ``columns``; without gaps they read as one texture."""
    return make_grid_image(tiles, nrow=columns, padding=2 if gaps else 0, upscale=upscale)


def image_preview(image: torch.Tensor, max_side: int = 480) -> Image.Image:
    """A whole source image shrunk to fit ``max_side`` (big microscopy images are 1411 px)."""
    picture = to_pil(image)
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return picture


# ---------------------------------------------------------------------------- coverage

@dataclass
class PlacementCoverage:
    """How evenly one placement covered an image: measured over the draws and exact."""

    placement: str
    relative_map: np.ndarray  # block means of count / mean count, at display size (1 = average)
    column_profile: np.ndarray  # relative coverage of each column, averaged over rows (full width)
    cv: float  # coefficient of variation of the per-pixel counts (0 = perfectly even)
    min_max_ratio: float  # least over most covered pixel (1 = perfectly even)
    exact_cv: float  # the same two numbers for infinitely many draws (expected_coverage)
    exact_min_max_ratio: float


@dataclass
class CoverageComparison:
    image_hw: tuple[int, int]
    tile_size: int
    draws: int
    mean_per_pixel: float  # how many drawn tiles covered an average pixel
    row_centres: np.ndarray  # pixel coordinates of the display blocks
    column_centres: np.ndarray
    placements: dict[str, PlacementCoverage] = field(default_factory=dict)


def draws_for(image_hw, tile_size: int, per_pixel: float) -> int:
    """Draws that cover an average pixel ``per_pixel`` times, capped at MAX_DRAWS."""
    height, width = (int(v) for v in image_hw)
    return int(min(MAX_DRAWS, max(1, round(per_pixel * height * width / tile_size**2))))


def _block_edges(length: int, blocks: int) -> np.ndarray:
    return np.unique(np.linspace(0, length, min(length, blocks) + 1).round().astype(int))


def _block_means(values: np.ndarray, row_edges: np.ndarray, column_edges: np.ndarray) -> np.ndarray:
    # Means over uneven blocks that keep the border pixels in their own edge blocks.
    sums = np.add.reduceat(np.add.reduceat(values, row_edges[:-1], axis=0), column_edges[:-1], axis=1)
    return sums / np.outer(np.diff(row_edges), np.diff(column_edges))


def _evenness(values: np.ndarray) -> tuple[float, float]:
    values = values.astype(np.float64)
    mean, most = values.mean(), values.max()
    return float(values.std() / mean) if mean > 0 else float("inf"), float(values.min() / most) if most > 0 else 0.0


def compare_coverage(image_hw, tile_size: int, per_pixel: float = 200, seed: int = 0,
                     display_side: int = 200) -> CoverageComparison:
    """Count how often each pixel is seen by both placements over the same number of draws."""
    height, width = (int(v) for v in image_hw)
    draws = draws_for((height, width), tile_size, per_pixel)
    row_edges, column_edges = _block_edges(height, display_side), _block_edges(width, display_side)
    comparison = CoverageComparison(
        image_hw=(height, width), tile_size=int(tile_size), draws=draws,
        mean_per_pixel=draws * tile_size**2 / (height * width),
        row_centres=(row_edges[:-1] + row_edges[1:] - 1) / 2,
        column_centres=(column_edges[:-1] + column_edges[1:] - 1) / 2)
    for placement in PLACEMENT_TITLES:
        counts = coverage_counts((height, width), tile_size, draws, placement=placement, seed=seed)
        relative = counts / counts.mean()
        cv, ratio = _evenness(counts)
        exact_cv, exact_ratio = _evenness(expected_coverage((height, width), tile_size, placement))
        comparison.placements[placement] = PlacementCoverage(
            placement=placement, relative_map=_block_means(relative, row_edges, column_edges),
            column_profile=relative.mean(axis=0), cv=cv, min_max_ratio=ratio,
            exact_cv=exact_cv, exact_min_max_ratio=exact_ratio)
    return comparison


def coverage_figure(comparison: CoverageComparison) -> go.Figure:
    """Both placements' heat maps on one colour scale, so the darker borders of naive stand out."""
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.06,
                           subplot_titles=[PLACEMENT_TITLES[name] for name in comparison.placements])
    highest = max(float(c.relative_map.max()) for c in comparison.placements.values())
    for column, coverage in enumerate(comparison.placements.values(), start=1):
        figure.add_trace(go.Heatmap(
            z=coverage.relative_map, x=comparison.column_centres, y=comparison.row_centres,
            coloraxis="coloraxis", name=PLACEMENT_TITLES[coverage.placement],
            hovertemplate="column %{x:.0f}, row %{y:.0f}<br>%{z:.2f} x the average<extra></extra>"),
            row=1, col=column)
        figure.update_yaxes(autorange="reversed", scaleanchor=f"x{'' if column == 1 else column}",
                            constrain="domain", row=1, col=column)
        figure.update_xaxes(constrain="domain", row=1, col=column)
    figure.update_layout(coloraxis={"colorscale": "Viridis", "cmin": 0.0, "cmax": max(highest, 1.5),
                                    "colorbar": {"title": {"text": "seen / average"}}},
                         margin={"l": 10, "r": 10, "t": 40, "b": 10}, height=420)
    return figure


def profile_figure(comparison: CoverageComparison) -> go.Figure:
    """Coverage across the image's width: flat for the equal placement, a ramp at each edge for naive."""
    figure = go.Figure()
    for coverage in comparison.placements.values():
        figure.add_trace(go.Scatter(y=coverage.column_profile, mode="lines", name=PLACEMENT_TITLES[coverage.placement],
                                    line={"color": PLACEMENT_COLOURS[coverage.placement], "width": 2}))
    figure.add_hline(y=1.0, line_dash="dot", line_color="grey")
    # the legend sits above the plot: below it, large lecture-view fonts pushed it onto the axis title
    figure.update_layout(xaxis_title="column (pixels)", yaxis_title="seen / average", height=280,
                         yaxis_rangemode="tozero", margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})
    return figure


# ---------------------------------------------------------------------------- quiz

@dataclass
class TileQuiz:
    """The viewer's quiz: the current round, their answer to it, and the running score."""

    real_count: int
    generated_count: int
    seed: int = 0
    round_number: int = 0
    correct: int = 0
    total: int = 0
    answer: str | None = None  # the side chosen in this round, None until answered

    @property
    def current(self) -> QuizRound:
        return draw_round(self.round_number, self.seed, self.real_count, self.generated_count)

    @property
    def answered(self) -> bool:
        return self.answer is not None

    @property
    def answer_was_correct(self) -> bool | None:
        return None if self.answer is None else self.current.is_correct(self.answer)

    @property
    def score_text(self) -> str:
        return f"{self.correct} / {self.total}"

    def submit(self, side: str) -> bool:
        """Answer the current round; a second answer to the same round is not counted again."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, not {side!r}")
        if self.answer is None:
            self.answer = side
            self.total += 1
            self.correct += int(self.current.is_correct(side))
        return bool(self.answer_was_correct)

    def next_round(self) -> None:
        self.round_number += 1
        self.answer = None

    def reset(self) -> None:
        """Zero the score and move on, so a fresh start does not replay a tile just seen."""
        self.correct, self.total = 0, 0
        self.next_round()

    def tiles(self, real_pool: torch.Tensor, generated_pool: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(left, right) tiles of the current round."""
        current = self.current
        real, generated = real_pool[current.real_index], generated_pool[current.generated_index]
        return (real, generated) if current.real_side == "left" else (generated, real)
