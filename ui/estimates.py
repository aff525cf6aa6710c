"""How long a run will take here and now, for the Train page: timed, not promised."""

from __future__ import annotations

import streamlit as st

from gen_core.errors import GenCoreError
from gen_core.models.presets import QUICK_START
from gen_core.run.start import prepare_training, train_config_from_dict
from gen_core.training.estimate import estimate_training_seconds
from ui.live_runs import queue


@st.cache_data(ttl=120, show_spinner="Timing a few training steps on this machine…", max_entries=8)
def estimated_seconds(family: str, model: dict, dataset_name: str, training: dict) -> float | None:
    """Seconds the run would take on this machine under its current load (cached for two minutes,
    so a room opening the page at once times it once); None when it cannot be timed."""
    from ui.train_widgets import cached_dataset

    try:
        run = prepare_training(family, model, cached_dataset(dataset_name, {}),
                                   train_config_from_dict(training), save=False)
        return estimate_training_seconds(run.trainer)
    except GenCoreError:
        return None


def duration_text(seconds: float) -> str:
    """"about 40 s", "about 3 min": an estimate, rounded as one."""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def quick_start_estimate() -> str:
    """A sentence for the quick start: how long a visitor waits for it on this machine now: the training
    as timed, plus the start-up of a training process as the job queue last measured it."""
    seconds = estimated_seconds(QUICK_START.family, QUICK_START.model, "mnist5k", QUICK_START.training)
    if seconds is None:
        return ""
    seconds += queue().startup_seconds()
    return (f"On this machine right now that takes {duration_text(seconds)} (timed from a few training steps; "
            "longer while others train).")
