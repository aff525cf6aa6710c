"""The Tiles page's engine: tile pools, mosaics, coverage comparisons and the which-is-real quiz."""

import numpy as np
import pytest
import torch
from PIL import Image

from gen_core.data.base import ImageDataset
from gen_core.data.tiles import load_tile_dataset
from gen_core.errors import DatasetError
from ui.views import tiles as tiles_view

# ---------------------------------------------------------------------------- quiz

def test_rounds_are_replayable_and_use_both_sides():
    rounds = [tiles_view.draw_round(n, seed=3, real_count=10, generated_count=7) for n in range(60)]
    again = [tiles_view.draw_round(n, seed=3, real_count=10, generated_count=7) for n in range(60)]
    assert rounds == again
    assert {r.real_side for r in rounds} == {"left", "right"}
    assert all(0 <= r.real_index < 10 and 0 <= r.generated_index < 7 for r in rounds)
    other_seed = [tiles_view.draw_round(n, seed=4, real_count=10, generated_count=7) for n in range(60)]
    assert other_seed != rounds


def test_round_needs_tiles_on_both_sides():
    with pytest.raises(DatasetError):
        tiles_view.draw_round(0, seed=0, real_count=0, generated_count=5)


def _other(side: str) -> str:
    return "right" if side == "left" else "left"


def test_quiz_scores_right_and_wrong_answers_once_per_round():
    quiz = tiles_view.TileQuiz(real_count=20, generated_count=20, seed=1)
    assert quiz.score_text == "0 / 0" and not quiz.answered and quiz.answer_was_correct is None
    assert quiz.submit(quiz.current.real_side) is True
    assert (quiz.correct, quiz.total) == (1, 1) and quiz.answered
    assert quiz.submit(_other(quiz.current.real_side)) is True  # a second click changes nothing
    assert (quiz.correct, quiz.total) == (1, 1)
    quiz.next_round()
    assert not quiz.answered and quiz.round_number == 1
    assert quiz.submit(_other(quiz.current.real_side)) is False
    assert quiz.score_text == "1 / 2" and quiz.answer_was_correct is False


def test_reset_zeroes_the_score_and_moves_to_a_fresh_round():
    quiz = tiles_view.TileQuiz(real_count=5, generated_count=5)
    quiz.submit("left")
    quiz.reset()
    assert (quiz.correct, quiz.total, quiz.answer, quiz.round_number) == (0, 0, None, 1)


def test_quiz_rejects_a_side_that_does_not_exist():
    with pytest.raises(ValueError):
        tiles_view.TileQuiz(real_count=5, generated_count=5).submit("middle")


def test_quiz_tiles_put_the_real_tile_on_the_real_side():
    real_pool = torch.ones(6, 1, 4, 4)
    generated_pool = torch.zeros(6, 1, 4, 4)
    quiz = tiles_view.TileQuiz(real_count=6, generated_count=6, seed=2)
    sides_seen = set()
    for _ in range(20):
        left, right = quiz.tiles(real_pool, generated_pool)
        real_tile = left if quiz.current.real_side == "left" else right
        generated_tile = right if quiz.current.real_side == "left" else left
        assert real_tile.min() == 1 and generated_tile.max() == 0
        sides_seen.add(quiz.current.real_side)
        quiz.next_round()
    assert sides_seen == {"left", "right"}


# ---------------------------------------------------------------------------- tiles and mosaics

def test_pick_tiles_is_seeded_and_repeats_only_when_the_pool_is_short():
    pool = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1) / 10
    picked = tiles_view.pick_tiles(pool, 6, seed=5)
    assert torch.equal(picked, tiles_view.pick_tiles(pool, 6, seed=5))
    assert len(set(picked.flatten().tolist())) == 6
    assert len(tiles_view.pick_tiles(pool, 25, seed=0)) == 25


def test_zoom_factor_shows_small_tiles_large_and_never_shrinks():
    assert tiles_view.zoom_factor(16, 128) == 8
    assert tiles_view.zoom_factor(32, 128) == 4
    assert tiles_view.zoom_factor(512, 128) == 1


def test_mosaic_without_gaps_is_exactly_the_tiles_side_by_side():
    tiles = torch.rand(16, 1, 8, 8)
    seamless = tiles_view.mosaic_image(tiles, columns=4, gaps=False, upscale=2)
    assert seamless.size == (4 * 8 * 2, 4 * 8 * 2)
    assert np.array_equal(np.asarray(seamless)[:16, :16], np.asarray(Image.fromarray(
        (tiles[0, 0].numpy() * 255).round().astype(np.uint8)).resize((16, 16), Image.Resampling.NEAREST)))
    assert tiles_view.mosaic_image(tiles, columns=4, gaps=True).size == (4 * 8 + 5 * 2, 4 * 8 + 5 * 2)


def test_image_preview_fits_the_longest_side():
    preview = tiles_view.image_preview(torch.rand(1, 300, 600), max_side=200)
    assert max(preview.size) == 200 and preview.size[0] > preview.size[1]


# ---------------------------------------------------------------------------- coverage

def test_equal_sampler_is_far_more_even_than_naive():
    comparison = tiles_view.compare_coverage((128, 96), tile_size=32, per_pixel=500, display_side=40)
    equal, naive = comparison.placements["equal"], comparison.placements["naive"]
    assert equal.cv < 0.3 * naive.cv
    assert equal.min_max_ratio > 0.7 > 0.05 > naive.min_max_ratio
    assert equal.exact_cv == pytest.approx(0.0, abs=1e-9) and equal.exact_min_max_ratio == pytest.approx(1.0)
    assert naive.exact_cv > 0.2
    # border blocks of the map keep the naive placement's dark rim
    assert naive.relative_map[0, 0] < 0.3 < 0.7 < equal.relative_map[0, 0]
    assert naive.column_profile[0] < 0.3 and abs(equal.column_profile[0] - 1.0) < 0.2


def test_coverage_draws_match_the_coverage_asked_for_and_are_capped():
    comparison = tiles_view.compare_coverage((64, 64), tile_size=16, per_pixel=100, display_side=20)
    assert comparison.draws == 100 * 64 * 64 // 16**2
    assert comparison.mean_per_pixel == pytest.approx(100)
    assert comparison.placements["equal"].relative_map.shape == (20, 20)
    assert len(comparison.row_centres) == 20 and comparison.row_centres[0] >= 0
    assert tiles_view.draws_for((5000, 5000), 2, 1000) == tiles_view.MAX_DRAWS


def test_coverage_of_a_tile_larger_than_the_image_is_a_dataset_error():
    with pytest.raises(DatasetError):
        tiles_view.compare_coverage((20, 40), tile_size=32)


def test_coverage_figure_draws_both_samplers_on_one_colour_scale():
    comparison = tiles_view.compare_coverage((64, 48), tile_size=16, per_pixel=50, display_side=16)
    figure = tiles_view.coverage_figure(comparison)
    heatmaps = [trace for trace in figure.data if trace.type == "heatmap"]
    assert len(heatmaps) == 2 and {trace.coloraxis for trace in heatmaps} == {"coloraxis"}
    assert len(tiles_view.profile_figure(comparison).data) == 2


# ---------------------------------------------------------------------------- runs and datasets

def test_is_tile_run_reads_the_recorded_dataset():
    assert tiles_view.is_tile_run({"data": {"name": "tiles", "tile_size": 32}})
    assert not tiles_view.is_tile_run({"data": {"name": "mnist5k"}})
    assert not tiles_view.is_tile_run({})


def test_tile_source_and_held_out_names_of_a_tile_dataset(tmp_path):
    for name, size in (("big.png", 80), ("small.png", 48)):
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size), dtype=np.uint8)).save(tmp_path / name)
    dataset = load_tile_dataset(tmp_path, tile_size=16, tiles_per_epoch=20, test_tiles=10)
    assert tiles_view.tile_source_of(dataset).names == ["big.png", "small.png"]
    assert tiles_view.held_out_names(dataset) == ["small.png"]


def test_a_plain_dataset_has_no_tile_source():
    plain = ImageDataset(name="plain", train_images=torch.rand(2, 1, 4, 4), test_images=torch.rand(2, 1, 4, 4))
    assert tiles_view.held_out_names(plain) == []
    with pytest.raises(DatasetError):
        tiles_view.tile_source_of(plain)
