"""Widgets of the Train page: dataset options, model and training settings, cached previews.
Also ``make_active``, which the Models page shares.

Each ``*_inputs`` function draws its widgets and returns plain values (dicts of settings) that go
straight to ``gen_core``; keys start with "train_" and carry the preset's name where a value
should reset when another preset is chosen.
"""

from __future__ import annotations

import re
from dataclasses import fields

import streamlit as st
from PIL import Image

from gen_core.data import access, dataset_options, list_datasets, load_dataset
from gen_core.device import pick_device
from gen_core.errors import DatasetError, GenCoreError
from gen_core.limits import MAX_TILE_SET_BYTES, check_image_batch
from gen_core.models import FAMILIES, build_model, layer_summary
from gen_core.models.presets import Preset
from gen_core.settings import Setting, settings_of
from gen_core.training import TrainConfig
from ui import classroom, state
from ui.boundary import public_message

SIDEBAR_PICKER = "sidebar_run"  # widget key of the active-model picker in ui/sidebar.py
LEARNING_RATES = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2)

KEPT_FORM = "train_kept_form"  # the form's last values, restored after a visit to another page
_NOT_KEPT = ("train_start", "train_stop", "train_quick_start", "train_resume", "train_resume_run",
             "train_watched_run", "train_just_ended", "train_stop_sent", KEPT_FORM)


def keep_form_across_pages() -> None:
    """Call first on the page: bring back the settings Streamlit drops when another page is shown.

    Streamlit forgets a widget's value once a run does not draw it; the values seen at the top of
    each run here are copied aside and put back where they have gone missing.
    """
    kept = st.session_state.setdefault(KEPT_FORM, {})
    for key, value in kept.items():
        if key not in st.session_state:
            st.session_state[key] = value
    kept.update({key: value for key, value in st.session_state.items()
                 if isinstance(key, str) and key.startswith("train_") and key not in _NOT_KEPT
                 and not key.endswith("_upload") and isinstance(value, (str, int, float))})


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


# -- datasets ------------------------------------------------------------------------------------
@st.cache_data(ttl=60, show_spinner=False)
def dataset_rows() -> dict[str, dict]:
    return {row["name"]: row for row in list_datasets()}


def dataset_label(row: dict) -> str:
    where = "" if row["offline_available"] else " (needs download)"
    size = f" · {row['train_size']:,} train" if row["train_size"] else ""
    return f"{row['name']}{size}{where}"


def save_upload(name: str, data: bytes) -> str:
    """Keep an uploaded zip in this visitor's uploads folder (within their quota), named by its
    content so a re-upload is reused; the path a run records, relative to the runs folder."""
    folder, quota = classroom.own_uploads()
    return access.recorded_path(access.save_upload(name, data, folder, quota))


def _images_source(prefix: str, allow_embedded: bool) -> str | None | bool:
    """A folder path, a saved zip upload, None for the embedded images, or False when not given yet."""
    choices = (["Embedded photographs"] if allow_embedded else []) + ["Folder or zip path", "Upload a zip"]
    where = st.radio("Images from", choices, horizontal=True, key=f"{prefix}_source")
    if where == "Embedded photographs":
        return None
    if where == "Folder or zip path":
        path = st.text_input("Folder or .zip in the data folder", key=f"{prefix}_path",
                             help=f"Only folders inside {access.describe_data_folders()} can be read; "
                                  "anything else, upload as a zip.").strip()
        if path:
            try:  # said at once, before Start; the loader checks again
                with classroom.uploads_scope():
                    access.resolve_data_path(path)
            except DatasetError as error:
                st.error(public_message(error))
                return False
        return path or False
    if not classroom.may_save():  # nothing is kept for a classroom visitor without a name
        st.caption("Give your name in the sidebar first: uploads are kept under it.")
        return False
    upload = st.file_uploader("Zip of images", type=["zip"], key=f"{prefix}_upload")
    if upload is None:
        return False
    try:
        return save_upload(upload.name, upload.getvalue())
    except GenCoreError as error:
        st.error(public_message(error))
        return False


def _dataset_hint(name: str, row: dict) -> None:
    if not row["offline_available"] and any(setting.needs_network for setting in dataset_options(name)):
        st.warning(f"{name} is not on this machine yet. It downloads on first use when a network is "
                   "available; without one, the message after Start says where to put the files.")


def dataset_options_inputs(name: str) -> tuple[dict, tuple[int, int, int] | None] | None:
    """Loader options for ``name`` (one widget per option it describes) and the image shape they give;
    None until a needed folder or zip is given."""
    row = dataset_rows()[name]
    prefix = f"train_{name}"
    described = [setting for setting in dataset_options(name) if setting.in_app
                 and (not setting.needs_network or not row["offline_available"])]
    options, waiting = {}, None
    for setting in (setting for setting in described if setting.widget == "images"):
        path = _images_source(prefix, allow_embedded=not setting.required)
        if path is False:
            waiting = f"Give the {setting.label.lower()}: {setting.help}."
        elif path is not None:
            options[setting.name] = path
    shown = [setting for setting in described if setting.widget != "images"]
    columns = st.columns(len(shown)) if shown else []
    for column, setting in zip(columns, shown):
        value = setting_input(setting, setting.default, f"{prefix}_{setting.key}", column)
        if value or setting.default is not None:  # an optional number left at 0 means "not given"
            options[setting.name] = value
    _dataset_hint(name, row)
    if waiting:
        st.info(waiting)
        return None
    side = options.get("size", options.get("tile_size"))
    shape = (options.get("channels", 1), side, side) if side else row["image_shape"]
    if "tiles_per_epoch" in options:
        try:  # the tiles of one epoch (and 500 test tiles) are held at once: refuse a set too large now
            check_image_batch(int(options["tiles_per_epoch"]) + 500, shape, "tiles", MAX_TILE_SET_BYTES)
        except GenCoreError as error:
            st.error(str(error))
            return None
    return options, shape


@st.cache_resource(show_spinner="Loading dataset…", max_entries=2)
def cached_dataset(name: str, options: dict):
    return load_dataset(name, **options)


# -- model and training settings ---------------------------------------------------------------
def setting_input(setting: Setting, value, key: str, container):
    """The widget a described setting asks for, starting at ``value``; returns what it holds."""
    label, help_text = setting.label, setting.help or None
    if setting.choices:
        index = setting.choices.index(value) if value in setting.choices else 0
        draw = container.radio if setting.widget == "radio" else container.selectbox
        extra = {"horizontal": True} if setting.widget == "radio" else {}
        return draw(label, setting.choices, index=index, key=key, help=help_text, **extra,
                    format_func=lambda choice: setting.choice_labels.get(choice, str(choice)))
    if setting.kind is tuple:
        text = container.text_input(label, ", ".join(str(v) for v in value), key=key, help=help_text)
        return text.strip()
    if setting.kind is bool:
        return container.checkbox(label, bool(value), key=key, help=help_text)
    if setting.kind is int:
        low = 0 if value is None else int(setting.minimum if setting.minimum is not None else 0)
        step = int(setting.step or 1)
        return int(container.number_input(label, low, None if setting.maximum is None else int(setting.maximum),
                                          int(value or 0), step=step, key=key, help=help_text))
    upper = setting.below if setting.below is not None else setting.maximum
    return float(container.number_input(label, setting.minimum, upper, float(value), step=setting.step or 0.5,
                                        key=key, help=help_text, format="%.3g"))


def model_settings_inputs(preset: Preset) -> dict:
    """Every editable setting of the preset's family, starting from the preset's values."""
    described = settings_of(FAMILIES[preset.family][0])
    values = {**{setting.name: setting.default for setting in described}, **preset.model}
    prefix = f"train_model_{slug(preset.name)}"
    settings: dict = {}
    columns = st.columns(3)
    for setting in described:
        if setting.only_when:
            other, needed = setting.only_when
            if settings.get(other, values.get(other)) != needed:
                continue
        settings[setting.name] = setting_input(setting, values[setting.name], f"{prefix}_{setting.name}",
                                               columns[len(settings) % 3])
    return settings


def device_choices() -> list[str]:
    choices = ["auto", "cpu"]
    for accelerator in ("cuda", "mps"):
        try:
            pick_device(accelerator)
            choices.append(accelerator)
        except (ValueError, RuntimeError):
            pass
    return choices


def training_settings_inputs(preset: Preset) -> dict:
    defaults = {field.name: field.default for field in fields(TrainConfig)}
    values = {**defaults, **preset.training}
    prefix = f"train_fit_{slug(preset.name)}"
    epochs_col, batch_col, seed_col = st.columns(3)
    lr_col, device_col = st.columns([2, 1])
    lr = min(LEARNING_RATES, key=lambda rate: abs(rate - values["lr"]))
    described = settings_of(TrainConfig)  # precision and compile, from their descriptions
    columns = st.columns(len(described))
    generated = {setting.name: setting_input(setting, values[setting.name], f"{prefix}_{setting.name}", column)
                 for setting, column in zip(described, columns)}
    return {**generated,
        "epochs": int(epochs_col.number_input("Epochs", 1, 10_000, int(values["epochs"]), key=f"{prefix}_epochs")),
        "batch_size": int(batch_col.number_input("Batch size", 1, 8192, int(values["batch_size"]),
                                                 key=f"{prefix}_batch")),
        "seed": int(seed_col.number_input("Seed", 0, 2**31 - 1, int(values["seed"]), key=f"{prefix}_seed",
                                          help="Fixes the batch order, the training noise and the preview noise.")),
        "lr": lr_col.select_slider("Learning rate", LEARNING_RATES, value=lr, format_func=lambda r: f"{r:g}",
                                   key=f"{prefix}_lr"),
        "device": device_col.selectbox("Device", device_choices(), key="train_device",
                                       help="auto: the GPU when there is one, else the CPU"),
    }


@st.cache_data(show_spinner="Building the model…", max_entries=32)
def layer_table(family: str, settings: dict, image_shape: tuple[int, int, int]) -> dict:
    """The layer summary of the model these settings build for this image shape (cached)."""
    summary = layer_summary(build_model(family, **settings, image_shape=image_shape))
    return {"records": summary.as_records(), "total": summary.total_parameters,
            "trainable": summary.trainable_parameters}


# -- display helpers -----------------------------------------------------------------------------
def enlarged(image: Image.Image, width: int = 480) -> Image.Image:
    """Scale a small grid up by a whole factor with nearest neighbour, so pixels stay crisp."""
    factor = max(1, width // max(1, image.width))
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def make_active(path) -> None:
    """Make ``path`` the active run; the sidebar's picker follows it on the next rerun."""
    state.set_active_run(path)
