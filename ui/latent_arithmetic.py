"""The Latent map's arithmetic row: the chosen test image A, then A + s · (mean of class b - mean of class a)
decoded for a few s, so the room sees a 4 turn into a 9 while keeping its slant and thickness.

The class means are those of the encoded test set the map already holds. ``?afrom=`` and ``?ato=``
keep the two classes in a link.
"""

from __future__ import annotations

import streamlit as st
import torch

from gen_core.images import make_grid_image
from gen_core.latent import arithmetic_images, class_mean_table
from ui import presentation
from ui.explore_widgets import run_key
from ui.state import user_errors
from ui.text import plain
from ui.url_state import UrlParam
from ui.views.pictures import display_upscale

FROM_KEY = "latent_map_add_from"  # session keys of the two classes
TO_KEY = "latent_map_add_to"
STRENGTHS = (0.0, 0.5, 1.0, 1.5)


def arithmetic_params(classes) -> list[UrlParam]:
    return [UrlParam("afrom", FROM_KEY, "choice", choices=tuple(classes)),
            UrlParam("ato", TO_KEY, "choice", choices=tuple(classes))]


@st.cache_resource(show_spinner=False, max_entries=32)
def _strip(path: str, mtime: float, index: int, from_class: int, to_class: int, frame_px: int, _model, _latent_map,
           _test_image):
    """The test image, then its code moved by each strength, decoded: one strip."""
    table = class_mean_table(_latent_map.latents, _latent_map.labels, _latent_map.class_names)
    moved = arithmetic_images(_model, _latent_map.latents[index], table, from_class, to_class, STRENGTHS)
    frames = torch.cat([torch.as_tensor(_test_image, dtype=torch.float32).unsqueeze(0).cpu(), moved])
    return make_grid_image(frames, nrow=len(frames), upscale=display_upscale(_model.image_shape, frame_px))


def _default_to(latent_map, classes, from_class: int) -> int:
    """9 for a 4 and 4 for a 9 (a pair the code mixes), else the next class."""
    names = [latent_map.class_name(c) for c in classes]
    partner = {"4": "9", "9": "4"}.get(latent_map.class_name(from_class))
    if partner in names:
        return classes[names.index(partner)]
    return classes[(classes.index(from_class) + 1) % len(classes)]


def _keep(key: str, classes, fallback: int) -> None:
    if st.session_state.get(key) not in classes:
        st.session_state[key] = fallback


def arithmetic_section(run, latent_map, test_image, index: int) -> None:
    """The chosen test image ``index`` moved from one class's mean code towards another's, as a strip."""
    classes = latent_map.present_classes()
    st.subheader(f"Latent arithmetic: test image #{index} + (mean of one class − mean of another)")
    if len(classes) < 2:
        st.info("Latent arithmetic needs a labelled test set with at least two classes; this one has "
                f"{'no class labels' if latent_map.labels is None else 'one class'}.")
        return
    own = int(latent_map.labels[index])
    _keep(FROM_KEY, classes, own)
    _keep(TO_KEY, classes, _default_to(latent_map, classes, int(st.session_state[FROM_KEY])))
    with presentation.settings("Which two classes (arithmetic)"):
        first, second = st.columns(2)
        from_class = first.selectbox("Take away the mean of class", classes, format_func=latent_map.class_name,
                                     key=FROM_KEY, help="Usually the image's own class.")
        to_class = second.selectbox("Add the mean of class", classes, format_func=latent_map.class_name,
                                    key=TO_KEY)
    from_name, to_name = plain(latent_map.class_name(from_class)), plain(latent_map.class_name(to_class))
    if from_class == to_class:
        st.info(f"Choose two different classes: from {from_name} to {from_name} adds nothing.")
        return
    with user_errors("The arithmetic could not be done: "):
        strip = _strip(*run_key(run), int(index), int(from_class), int(to_class),
                       presentation.strip_frame_px(len(STRENGTHS) + 1), run.model, latent_map, test_image)
        st.image(strip, width=strip.width, output_format="PNG",
                 caption=f"A (test image #{index}, class {plain(latent_map.class_name(own))}), then decode(A + s · "
                         f"(mean({to_name}) − mean({from_name}))) for s = " + ", ".join(f"{s:g}" for s in STRENGTHS))
        presentation.note(f"s = 0 is A's own reconstruction; s = 1 adds the whole step from the mean code of class "
                          f"{from_name} to that of class {to_name} (the test set's class means). What the digit "
                          "keeps as it changes class (slant, thickness) is what the code holds apart from the class.")
