"""The Embedding Projector's files: rows that agree, a square sprite, a config that names them."""

from __future__ import annotations

import io
import math
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from gen_core.errors import LatentError
from gen_core.latent import PROJECTOR_FILES, encode_dataset, projector_export
from gen_core.latent.projector import sprite_image


def _rows(content: bytes) -> list[list[str]]:
    return [line.split("\t") for line in content.decode().splitlines()]


@pytest.mark.parametrize("count", [1, 10, 37])
def test_rows_agree_and_the_sprite_is_a_square_of_thumbnails(digits_ae_map, digits, count):
    model, _latent_map = digits_ae_map
    images = digits.test_images[:count]
    latents = encode_dataset(model, images)
    export = projector_export(latents, images, digits.test_labels[:count], digits.class_names)
    assert list(export.files) == list(PROJECTOR_FILES) and export.count == count
    tensors = _rows(export.files["tensors.tsv"])
    assert len(tensors) == count and {len(row) for row in tensors} == {model.latent_dim}
    np.testing.assert_allclose(np.array(tensors, dtype=np.float64), latents.numpy(), rtol=1e-5, atol=1e-6)
    metadata = _rows(export.files["metadata.tsv"])
    assert metadata[0] == ["label", "index"] and len(metadata) == count + 1
    assert [row[1] for row in metadata[1:]] == [str(i) for i in range(count)]
    assert [row[0] for row in metadata[1:]] == [digits.class_names[int(y)] for y in digits.test_labels[:count]]
    sprite = Image.open(io.BytesIO(export.files["sprite.png"]))
    side = math.ceil(math.sqrt(count)) * 8
    assert sprite.size == (side, side) and export.thumbnail == (8, 8)
    # The last image sits in its cell, row by row from the top left.
    row, column = divmod(count - 1, math.ceil(math.sqrt(count)))
    cell = np.asarray(sprite)[row * 8:(row + 1) * 8, column * 8:(column + 1) * 8]
    expected = images[count - 1, 0].mul(255).round().to(torch.uint8).numpy()
    np.testing.assert_array_equal(cell, expected)


def test_the_config_points_at_the_three_files_with_the_thumbnail_size(digits_ae_map, digits):
    model, _latent_map = digits_ae_map
    images = digits.test_images[:5]
    config = projector_export(encode_dataset(model, images), images, name='run "a"').files["projector_config.pbtxt"]
    text = config.decode()
    for line in ('tensor_path: "tensors.tsv"', 'metadata_path: "metadata.tsv"', 'image_path: "sprite.png"',
                 'tensor_name: "run \\"a\\""'):
        assert line in text
    assert text.count("single_image_dim: 8") == 2
    assert text.count("{") == text.count("}") == 2


def test_a_sprite_past_the_projector_limit_gets_smaller_thumbnails():
    images = torch.rand(30, 1, 10, 10)  # 6 a side: 60 pixels at full size
    sprite, thumbnail = sprite_image(images, max_side=40)
    assert thumbnail == (6, 6) and sprite.size == (36, 36)
    colour, _ = sprite_image(torch.rand(4, 3, 5, 7))
    assert colour.mode == "RGB" and colour.size == (14, 10)


def test_labels_are_one_field_each_and_the_zip_holds_a_folder(digits_ae_map, digits):
    model, _latent_map = digits_ae_map
    images = digits.test_images[:3]
    export = projector_export(encode_dataset(model, images), images, torch.tensor([0, 1, 1]),
                              ["tab\there", "two\nlines"], indices=[7, 8, 9])
    assert _rows(export.files["metadata.tsv"])[1:] == [["tab here", "7"], ["two lines", "8"], ["two lines", "9"]]
    unlabelled = projector_export(encode_dataset(model, images), images)
    assert _rows(unlabelled.files["metadata.tsv"])[1] == ["", "0"]
    with zipfile.ZipFile(io.BytesIO(export.zip_bytes("my-run-projector"))) as archive:
        assert sorted(archive.namelist()) == sorted(f"my-run-projector/{name}" for name in PROJECTOR_FILES)
        assert archive.read("my-run-projector/tensors.tsv") == export.files["tensors.tsv"]


def test_mismatched_or_empty_inputs_are_refused(digits):
    with pytest.raises(LatentError, match="3 images were given for 2"):
        projector_export(np.zeros((2, 4)), digits.test_images[:3])
    with pytest.raises(LatentError, match="at least one latent code"):
        projector_export(np.zeros((0, 4)), digits.test_images[:0])
    with pytest.raises(LatentError, match="one value per latent code"):
        projector_export(np.zeros((2, 4)), digits.test_images[:2], labels=[1])
