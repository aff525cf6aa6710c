"""Fixtures for page tests: tiny real models trained once per session, and an AppTest factory."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from gen_core.run.start import prepare_training
from gen_core.training import TrainConfig

APP = str(Path(__file__).resolve().parents[2] / "app.py")

TINY_MODELS = {
    "ae": ("ae", {"hidden": (64,), "latent_dim": 8}),
    "vae2": ("vae", {"hidden": (64,), "latent_dim": 2}),
    "vae8": ("vae", {"hidden": (64,), "latent_dim": 8}),
    "dcgan": ("dcgan", {"latent_dim": 8, "gen_channels": (16, 8, 8), "disc_channels": (8, 16)}),
}


@pytest.fixture(scope="session", autouse=True)
def pages_decode_on_the_server():
    """AppTest has no browser to run the in-browser decoder, so page tests check the server path
    (the operator's switch, ui/components/browser_decoder.py); test_browser_decoder.py turns it back
    on for its own server and checks the browser path in Chromium."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENT_LAB_BROWSER_DECODE", "off")
        yield


@pytest.fixture(scope="session")
def runs_root(isolated_checkpoints_root) -> Path:
    """The session's checkpoints folder: tests/conftest.py points GEN_CORE_CHECKPOINTS (which the app
    reads) at it for the whole session."""
    return isolated_checkpoints_root


@pytest.fixture
def deferred_downloads(monkeypatch) -> dict:
    """file name -> the callable a download button would run when clicked (zips are built lazily)."""
    recorded = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        recorded[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return recorded


@pytest.fixture(scope="session")
def trained_runs(runs_root) -> dict[str, Path]:
    """One tiny trained run per key of TINY_MODELS, on the embedded MNIST sample (2 epochs)."""
    paths = {}
    for key, (family, settings) in TINY_MODELS.items():
        trainer = prepare_training(family, settings, "mnist5k",
                                   TrainConfig(epochs=2, batch_size=128, lr=2e-3, device="cpu", sample_count=16),
                                   root=runs_root, name=f"tiny-{key}")
        trainer.fit()
        paths[key] = trainer.run_dir
    return paths


@pytest.fixture(scope="session")
def tile_run(runs_root) -> Path:
    """A tiny VAE trained one epoch on 16x16 tiles of the embedded images, end to end."""
    trainer = prepare_training("vae", {"hidden": (64,), "latent_dim": 8}, "tiles",
                               TrainConfig(epochs=1, batch_size=64, lr=2e-3, device="cpu", sample_count=16),
                               root=runs_root, name="tiny-tiles",
                               dataset_options={"tile_size": 16, "tiles_per_epoch": 300})
    history = trainer.fit()
    assert history["status"] == "completed"
    return trainer.run_dir


def open_page(page: str, active_run: Path | None = None, timeout: float = 60, query: dict | None = None,
              **session) -> AppTest:
    """Run the app on ``app_pages/<page>.py`` with ``active_run`` as the active model; keyword
    arguments are put in session state first (e.g. a short inversion for tests); ``query`` is the
    link's query string (``{"seed": "3"}`` for ``?seed=3``)."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params.update(query or {})
    if active_run is not None:
        at.session_state["active_run"] = str(active_run)
    for key, value in session.items():
        at.session_state[key] = value
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    return at


def page_text(at: AppTest) -> str:
    """All markdown, captions, headers and messages on the page, for assertions on what it says."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(element.value) for element in getattr(at, kind)]
    return "\n".join(parts)
