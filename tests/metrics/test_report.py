"""evaluate_run end to end on tiny real runs, the stored metrics, the eval command and FID's
offline behaviour. Models train on the 8x8 digits for an epoch or a few; the VAE's reports train
the feature classifier into a folder of the module's own, and every later report there reuses
it. What the scores say about a model comes from the session's really trained autoencoder."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gen_core import cli
from gen_core.atomic import write_json_atomic
from gen_core.cli.flags import run_path
from gen_core.errors import CheckpointError, SamplerError
from gen_core.metrics import METRICS, evaluate_run, inception, store_final_metrics, stored_metrics
from gen_core.run import checkpoint, layout
from gen_core.run.start import prepare_training
from gen_core.training import TrainConfig

SMALL = {"n_samples": 100, "iwae_k": 8, "class_samples": 20, "device": "cpu"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    folders = {}
    for family, settings, epochs in (("vae", {"hidden": (64,), "latent_dim": 4}, 3),
                                     ("dcgan", {"latent_dim": 4, "gen_channels": (16, 8), "disc_channels": (8,)}, 1)):
        torch.manual_seed(0)
        trainer = prepare_training(family, settings, "digits", TrainConfig(epochs=epochs, batch_size=64, device="cpu"),
                                   root=root, name=family)
        trainer.fit()
        folders[family] = trainer.run_dir
    return folders


@pytest.fixture(scope="module")
def feature_root(tmp_path_factory):
    """Where the VAE's reports keep the digits classifier (trained by the first, reused after)."""
    return tmp_path_factory.mktemp("feature-nets")


@pytest.fixture(scope="module")
def vae_reports(runs, feature_root, tmp_path_factory):
    progress = {"prior": [], "gmm": []}
    reports = {}
    with pytest.MonkeyPatch.context() as patch:  # a torch hub cache without Inception weights
        patch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))
        for sampler, messages in progress.items():
            reports[sampler] = evaluate_run(runs["vae"], sampler=sampler, feature_net_root=feature_root,
                                            progress=lambda fraction, text, log=messages: log.append((fraction, text)),
                                            **SMALL)
    return reports, progress


def test_a_vae_report_holds_every_metric_with_its_description(vae_reports):
    reports, _progress = vae_reports
    prior, gmm = reports["prior"], reports["gmm"]
    for name in ("recon_mse", "recon_bce", "ssim", "elbo", "kl", "log_likelihood", "bits_per_dim", "mmd_pixel",
                 "mmd_feature", "frechet_feature", "mode_kl", "modes_covered", "sharpness_ratio",
                 "novelty_ratio", "diversity_ratio", "classifier_accuracy_real"):
        assert name in prior["metrics"] and math.isfinite(prior["metrics"][name]), name
    assert set(prior["descriptions"]) == set(prior["metrics"]) | set(prior["unavailable"])
    assert all(name in METRICS for name in prior["descriptions"])
    assert "class_accuracy" in prior["unavailable"] and "class_accuracy" in gmm["metrics"]
    assert len(gmm["details"]["class_accuracy_per_class"]) == 10
    assert prior["metrics"]["classifier_accuracy_real"] > 0.9
    assert prior["metrics"]["log_likelihood"] >= prior["metrics"]["elbo"]
    assert prior["metrics"]["bits_per_dim"] == pytest.approx(-prior["metrics"]["log_likelihood"] / (64 * math.log(2)))
    # no Inception weights in this torch hub cache: standard FID is missing, and the report says where to put them
    assert "fid_inception" not in prior["metrics"]
    assert "not on this machine" in prior["unavailable"]["fid_inception"]
    json.dumps(prior, allow_nan=False)  # strict JSON: numbers, strings, lists and dicts only


def test_the_sampler_is_recorded_and_leaves_reconstruction_alone(vae_reports):
    prior, gmm = vae_reports[0]["prior"], vae_reports[0]["gmm"]
    for name in ("recon_mse", "ssim", "elbo", "log_likelihood", "classifier_accuracy_real"):
        assert prior["metrics"][name] == gmm["metrics"][name], name  # they never look at samples
    assert (prior["sampler"], gmm["sampler"]) == ("prior", "gmm")
    assert gmm["settings"]["sampler_params"]["n_components"] >= 1 and not prior["settings"]["sampler_params"]


def test_progress_rises_to_one_and_the_classifier_is_trained_once(vae_reports, feature_root):
    reports, progress = vae_reports
    for sampler in ("prior", "gmm"):
        fractions = [fraction for fraction, _message in progress[sampler]]
        assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert any("Training the feature classifier" in message for _fraction, message in progress["prior"])
    assert not any("Training the feature classifier" in message for _fraction, message in progress["gmm"])
    assert any("mixture for class 9" in message for _fraction, message in progress["gmm"])
    assert not reports["prior"]["details"]["feature_net"]["reused"]
    assert reports["gmm"]["details"]["feature_net"]["reused"]
    assert reports["gmm"]["details"]["feature_net"]["path"].startswith(str(feature_root))


def test_a_gan_report_says_why_encoder_metrics_are_missing(runs, vae_reports, feature_root):
    report = evaluate_run(runs["dcgan"], feature_net_root=feature_root, **SMALL)
    for name in ("recon_mse", "ssim", "elbo", "log_likelihood"):
        assert name in report["unavailable"] and name not in report["metrics"]
    assert "no encoder" in report["unavailable"]["ssim"]
    # another model on the same data is scored by the classifier the VAE's reports trained
    assert math.isfinite(report["metrics"]["frechet_feature"]) and report["details"]["feature_net"]["reused"]
    assert report["details"]["feature_net"]["path"] == vae_reports[0]["prior"]["details"]["feature_net"]["path"]
    with pytest.raises(SamplerError, match="no encoder"):
        evaluate_run(runs["dcgan"], sampler="gmm", **SMALL)


def test_every_family_reports_its_c2st_accuracy_with_its_interval(runs, vae_reports, feature_root, tmp_path):
    """A classifier told to separate real test images from samples: every family is scored by it."""
    reports = {"vae": vae_reports[0]["prior"], "vae gmm": vae_reports[0]["gmm"],
               "dcgan": evaluate_run(runs["dcgan"], feature_net_root=feature_root, **SMALL)}
    for family, settings in (("ae", {"hidden": (32,), "latent_dim": 4}),
                             ("vaegan", {"conv_channels": (8,), "disc_channels": (8,), "latent_dim": 4})):
        trainer = prepare_training(family, settings, "digits", TrainConfig(epochs=1, batch_size=64, device="cpu"),
                                   root=tmp_path, name=family)
        trainer.fit()
        reports[family] = evaluate_run(trainer.run_dir, feature_net_root=feature_root, **SMALL)
    for name, report in reports.items():
        accuracy = report["metrics"]["c2st_accuracy"]
        low, high = report["details"]["c2st"]["interval"]
        assert 0 <= low <= accuracy <= high <= 1, name
        assert "c2st_accuracy" in report["descriptions"], name
    assert {report["family"] for report in reports.values()} == {"ae", "vae", "dcgan", "vaegan"}


# -- what the scores say about a trained model ---------------------------------------------------
def test_a_trained_autoencoder_draws_the_class_asked_for_and_its_mixture_beats_its_prior(
        trained_digits_ae, tmp_path):
    """The README's claims, on a small autoencoder trained for real: samples drawn for a class are
    classified as that class far above chance (1 in 10), and a per-class mixture in latent space
    gives samples much closer to real digits (Fréchet distance) than the code-statistics prior."""
    settings = {**SMALL, "n_samples": 200, "feature_net_root": tmp_path}
    prior = evaluate_run(trained_digits_ae, sampler="prior", **settings)
    gmm = evaluate_run(trained_digits_ae, sampler="gmm", **settings)
    assert gmm["metrics"]["class_accuracy"] > 0.7
    per_class = gmm["details"]["class_accuracy_per_class"]
    assert len(per_class) == 10 and min(per_class.values()) > 0.5  # every class, not a few easy ones
    assert gmm["metrics"]["frechet_feature"] < 0.7 * prior["metrics"]["frechet_feature"]
    assert gmm["metrics"]["modes_covered"] == 10


def test_stored_metrics_keep_one_entry_per_sampler(vae_reports, runs):
    run_dir = runs["vae"]
    epochs_before = checkpoint.read_json(run_dir / layout.HISTORY_FILE)["epochs"]
    store_final_metrics(run_dir, vae_reports[0]["prior"])
    store_final_metrics(run_dir, [vae_reports[0]["gmm"]])
    history = checkpoint.read_json(run_dir / layout.HISTORY_FILE)
    assert set(history["metrics"]) == {"prior", "gmm"} and history["epochs"] == epochs_before
    assert history["metrics"]["gmm"]["metrics"] == vae_reports[0]["gmm"]["metrics"]
    assert history["metrics"]["prior"]["epochs_trained"] == 3
    assert stored_metrics(run_dir) == history["metrics"]
    with pytest.raises(CheckpointError):
        store_final_metrics(run_dir, {"loss": 1.0})


def test_the_eval_command_prints_one_json_object_and_fails_cleanly(runs, capsys):
    code = cli.main(["eval", str(runs["vae"]), "--json", "--samples", "50", "--iwae-k", "2", "--class-samples", "5",
                     "--device", "cpu", "--no-inception"])
    captured = capsys.readouterr()
    assert code == 0
    report = json.loads(captured.out)
    assert report["sampler"] == "prior" and report["metrics"]["ssim"] > 0
    # by default the classifier is cached next to the run, in the runs folder
    assert report["details"]["feature_net"]["path"].startswith(str(runs["vae"].parent / "_feature_nets"))
    assert "eval" in captured.err  # the progress bar goes to stderr
    assert cli.main(["eval", str(runs["vae"].parent / "missing")]) == 2
    assert cli.main(["eval", str(runs["dcgan"]), "--sampler", "gmm", "--samples", "50"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors[-1].startswith("error: ") and "no encoder" in errors[-1]


def test_a_run_can_be_named_instead_of_given_as_a_path(runs, monkeypatch):
    monkeypatch.setenv("GEN_CORE_CHECKPOINTS", str(runs["vae"].parent))
    assert run_path("vae") == runs["vae"] and run_path(runs["dcgan"]) == runs["dcgan"]
    with pytest.raises(CheckpointError, match="No run"):
        run_path("no-such-run")


def test_the_eval_command_prints_a_readable_table(runs, capsys):
    assert cli.main(["eval", str(runs["dcgan"]), "--samples", "30", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "MMD^2, pixels" in out and "Not available:" in out and "no encoder" in out


# -- standard FID ------------------------------------------------------------------------------
def _forbid_downloads(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def test_without_local_weights_fid_is_reported_unavailable_not_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    _forbid_downloads(monkeypatch)
    assert inception.inception_weights_path() is None
    reason = inception.inception_unavailable_reason()
    assert "not on this machine" in reason and str(tmp_path) in reason
    with pytest.raises(FileNotFoundError):
        inception.inception_fid(torch.rand(4, 1, 8, 8), torch.rand(4, 1, 8, 8))


def test_with_local_weights_fid_runs_through_torchmetrics(tmp_path, monkeypatch):
    import torch_fidelity.feature_extractor_inceptionv3 as fidelity

    assert fidelity.URL_INCEPTION_V3.endswith("/" + inception.INCEPTION_WEIGHTS_FILE)
    with monkeypatch.context() as building:  # an Inception with random weights, saved as torch.hub would
        building.setattr(fidelity, "load_state_dict_from_url", lambda *args, **kwargs: {})
        building.setattr(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state, *a, **k: None)
        network = fidelity.FeatureExtractorInceptionV3("inception-v3-compat", ["64"])
    weights = tmp_path / "hub" / "checkpoints" / inception.INCEPTION_WEIGHTS_FILE
    weights.parent.mkdir(parents=True)
    torch.save(network.state_dict(), weights)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    _forbid_downloads(monkeypatch)
    monkeypatch.setattr(fidelity, "load_state_dict_from_url", torch.hub.load_state_dict_from_url)
    assert inception.inception_weights_path() == weights and inception.inception_unavailable_reason() is None
    images = torch.rand(8, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    same = inception.inception_fid(images, images, feature=64)
    brighter = inception.inception_fid(images, (images + 0.4).clamp(0, 1), feature=64)
    assert abs(same) < 1e-6 and math.isfinite(brighter) and brighter > 1e-3


def test_a_metric_stored_under_its_older_name_reads_under_its_current_one(tmp_path):
    run_dir = tmp_path / "old-run"
    run_dir.mkdir()
    entry = {"metrics": {"memorisation_ratio": 0.8, "ssim": 0.7}, "unavailable": {}, "epochs_trained": 3}
    write_json_atomic(run_dir / layout.HISTORY_FILE, {"epochs": [], "metrics": {"prior": entry}})
    assert stored_metrics(run_dir)["prior"]["metrics"] == {"novelty_ratio": 0.8, "ssim": 0.7}
    assert "novelty_ratio" in METRICS and METRICS["novelty_ratio"].label == "Novelty ratio"
