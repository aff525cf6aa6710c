"""A run's decoder exported to ONNX (gen_core.run.onnx_export): onnxruntime decodes what torch decodes, for
every family; the export is cached in the run folder, rebuilt when the weights change, and a
hand-edited or oversized file is never trusted."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

from gen_core.cli import main
from gen_core.run import checkpoint, onnx_export
from gen_core.run.files import writing
from gen_core.run.layout import DECODER_FILE
from gen_core.run.onnx_export import DecoderExportError, decoder_for_run, export_decoder
from gen_core.models import build_model


def _moved_statistics(model):
    """Non-trivial BatchNorm statistics, so an export that ran BatchNorm in training mode (or
    dropped its statistics) would decode differently from torch."""
    generator = torch.Generator().manual_seed(3)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.3)
            module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)
    return model.eval()


def _onnx_decode(data: bytes, codes: torch.Tensor) -> np.ndarray:
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {"z": codes.numpy()})[0]


def _save(run_dir, model):
    return checkpoint.save_run(run_dir, model, data={"name": "mnist5k"}, training={},
                                history={"epochs": [], "status": "created"})


def test_onnxruntime_decodes_what_torch_decodes_for_every_family(tiny_case, build_tiny):
    model = _moved_statistics(build_tiny(tiny_case))
    codes = torch.randn(7, model.latent_dim, generator=torch.Generator().manual_seed(1)) * 1.5
    with torch.no_grad():
        expected = model.decode(codes).numpy()
    decoded = _onnx_decode(export_decoder(model), codes)
    assert decoded.shape == expected.shape == (7, 1, 28, 28)
    assert np.abs(decoded - expected).max() < 1e-4
    assert expected.std() > 1e-3  # the images differ from code to code: the comparison means something


def test_colour_conv_decoder_keeps_its_channels():
    torch.manual_seed(0)
    model = _moved_statistics(build_model("vae", image_shape=(3, 32, 32), arch="conv", conv_channels=(8, 16),
                                          latent_dim=6))
    codes = torch.randn(3, 6, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = model.decode(codes).numpy()
    decoded = _onnx_decode(export_decoder(model), codes)
    assert decoded.shape == (3, 3, 32, 32)
    assert np.abs(decoded - expected).max() < 1e-4


def test_the_export_is_cached_in_the_run_and_rebuilt_when_the_weights_change(tmp_runs, build_tiny):
    run_dir = _save(tmp_runs / "vae", build_tiny("vae-mlp"))
    first = decoder_for_run(run_dir)
    assert not first.cached and first.on_disk and (run_dir / DECODER_FILE).read_bytes() == first.data
    again = decoder_for_run(run_dir)
    assert again.cached and again.data == first.data

    retrained = build_tiny("vae-mlp", seed=5)  # new weights in the same folder
    _save(run_dir, retrained)
    rebuilt = decoder_for_run(run_dir)
    assert not rebuilt.cached and rebuilt.weights_sha256 != first.weights_sha256
    codes = torch.randn(2, retrained.latent_dim)
    with torch.no_grad():
        assert np.abs(_onnx_decode(rebuilt.data, codes) - retrained.eval().decode(codes).numpy()).max() < 1e-4


@pytest.mark.parametrize("content", [b"not an onnx file", b""])
def test_a_hand_edited_export_is_exported_again(tmp_runs, build_tiny, content):
    run_dir = _save(tmp_runs / "ae", build_tiny("ae-mlp"))
    (run_dir / DECODER_FILE).write_bytes(content)
    decoder = decoder_for_run(run_dir)
    assert not decoder.cached
    assert (run_dir / DECODER_FILE).read_bytes() == decoder.data != content


def test_an_export_from_other_weights_is_not_trusted(tmp_runs, build_tiny):
    one = _save(tmp_runs / "one", build_tiny("ae-mlp"))
    other = _save(tmp_runs / "other", build_tiny("ae-mlp", seed=9))
    (other / DECODER_FILE).write_bytes(decoder_for_run(one).data)  # copied across by hand
    assert not decoder_for_run(other).cached


def test_a_decoder_over_the_limit_is_refused(tmp_runs, build_tiny, monkeypatch):
    run_dir = _save(tmp_runs / "dcgan", build_tiny("dcgan"))
    monkeypatch.setattr(onnx_export, "MAX_DECODER_BYTES", 10_000)
    with pytest.raises(DecoderExportError, match="not sent to browsers"):
        decoder_for_run(run_dir)
    assert not (run_dir / DECODER_FILE).exists()


def test_a_busy_run_folder_is_exported_but_not_written(tmp_runs, build_tiny):
    import threading

    run_dir = _save(tmp_runs / "busy", build_tiny("ae-mlp"))
    held, release, results = threading.Event(), threading.Event(), []

    def trainer_holding_the_folder():
        with writing(run_dir):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=trainer_holding_the_folder)
    thread.start()
    try:
        assert held.wait(30)
        results.append(decoder_for_run(run_dir))
    finally:
        release.set()
        thread.join()
    assert results[0].data and not results[0].on_disk and not (run_dir / DECODER_FILE).exists()


def test_the_command_line_exports_and_then_reuses(tmp_runs, build_tiny, capsys, tmp_path):
    run_dir = _save(tmp_runs / "cli-run", build_tiny("vae-conv-beta"))
    assert main(["export-onnx", str(run_dir), "--out", str(tmp_path / "copy.onnx")]) == 0
    said = capsys.readouterr().out
    assert "exported" in said and "4-d code to 1x28x28 images" in said
    assert (tmp_path / "copy.onnx").read_bytes() == (run_dir / DECODER_FILE).read_bytes()
    assert main(["export-onnx", str(run_dir)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_the_command_line_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["export-onnx", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.startswith("error: No run at")
