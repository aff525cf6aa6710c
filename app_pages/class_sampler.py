"""Class sampler: new images of a chosen class, drawn from distributions fitted to the encoded training set."""

from __future__ import annotations

import copy
import statistics
import time
from collections import OrderedDict
from functools import partial

import streamlit as st

from gen_core.errors import GenCoreError, SamplerError
from gen_core.images import make_grid_image, png_bytes, side_by_side
from gen_core.latent import decode_latents, encode_dataset
from gen_core.limits import MAX_CLASSES
from gen_core.metrics.novelty import nearest_matches_by_row, novelty_baseline
from gen_core.sampling import (COVARIANCE_TYPES, MAX_COMPONENTS, SAMPLER_TITLES, TooManyComponentsError,
                               component_limits, draw_class_rows, fit_sampler, information_criteria,
                               max_components)
from ui import presentation, url_state
from ui.boundary import public_message
from ui.explore_widgets import run_key
from ui.model_notes import class_check_notes, training_note
from ui.state import active_dataset, require_active_run, user_errors
from ui.url_state import UrlParam
from ui.views.mixture import criteria_figure, weights_figure
from ui.views.pictures import display_upscale
from ui.text import plain

SAMPLER_CHOICES = {name: SAMPLER_TITLES[name] for name in ("gmm", "gaussian", "perturb", "prior")}  # page order
KIND_KEY = "class_sampler_kind"
COMPONENTS_KEY = "class_sampler_components"
COVARIANCE_KEY = "class_sampler_covariance"
INSPECT_KEY = "class_sampler_inspect"
INSPECT_CLASS_KEY = "class_sampler_inspect_class"
LARGEST_K_KEY = "class_sampler_largest_k"
COMPONENT_KEY = "class_sampler_component"
LAYOUTS = {"rows": "A row per class", "one": "One class"}
MAX_CLASS_ROWS = 20     # rows of a "row per class" drawing; the rest one class at a time
PER_ROW = 10            # samples per row when one class (or no class) fills several rows
STORE_SIZE = 8          # fitted samplers kept per run
MAX_CURVE_K = 50        # the inspector's curve fits one mixture per K: a link may not ask the server for 250


@st.cache_data(show_spinner="Encoding the training set…", max_entries=2)
def _encoded_train(path: str, mtime: float, _model, _dataset):
    labels = None if _dataset.train_labels is None else _dataset.train_labels.cpu().numpy()
    return encode_dataset(_model, _dataset.train_images).numpy(), labels


@st.cache_resource(max_entries=4)
def _sampler_store(path: str, mtime: float) -> OrderedDict:
    """Fitted samplers of one run, by sampler and fit settings (shared by every session)."""
    return OrderedDict()


@st.cache_data(show_spinner="Measuring how close the model's outputs come to the training set…", max_entries=4)
def _novelty_baseline(path: str, mtime: float, metric: str, _model, _dataset) -> float:
    return novelty_baseline(_model, _dataset.test_images, _dataset.train_images, metric=metric)


def _fitted_sampler(run, kind: str, settings: dict, latents, labels):
    """The cached sampler for these settings, fitted now with a progress bar if it is new."""
    store = _sampler_store(*run_key(run))
    key = (kind, tuple(sorted(settings.items())), labels is not None)
    if key not in store:
        bar = st.progress(0.0, text=f"Fitting the {SAMPLER_CHOICES[kind].lower()}…")
        started = time.perf_counter()
        try:
            sampler = fit_sampler(kind, latents, labels, progress=lambda share, text: bar.progress(share, text=text),
                                  **settings)
        finally:
            bar.empty()
        store[key] = (sampler, time.perf_counter() - started)
        while len(store) > STORE_SIZE:
            store.popitem(last=False)
    store.move_to_end(key)
    return store[key]


@st.cache_data(show_spinner="Fitting a mixture for each K…", max_entries=16)
def _criteria(path: str, mtime: float, label, largest_k: int, covariance: str, _codes) -> dict:
    """BIC and AIC for K = 1..largest_k of one class's codes (cached per run, class and settings)."""
    return information_criteria(_codes, range(1, largest_k + 1), covariance, seed=0)


@st.cache_data(show_spinner="Decoding the component means…", max_entries=16)
def _decoded_means(path: str, mtime: float, label, fit_key: tuple, _model, _means):
    """The decoded mean of each component of one class's fitted mixture (cached per run, class and fit)."""
    return decode_latents(_model, _means)


def _use_components(value: int) -> None:
    st.session_state[COMPONENTS_KEY] = int(value)


def _use_covariance(kind: str) -> None:
    st.session_state[COVARIANCE_KEY] = kind


def _explain_too_many(error: TooManyComponentsError) -> None:
    st.error(str(error))
    with st.container(horizontal=True):
        st.button(f"Use K = {error.suggested}", key="class_sampler_use_suggested", type="primary",
                  on_click=_use_components, args=(error.suggested,), icon=":material/auto_fix_high:")
        for kind in error.allowing:
            st.button(f"Keep K, use {kind} covariances", key=f"class_sampler_use_{kind}",
                      on_click=_use_covariance, args=(kind,))


def _show_rows(row_labels, rows, row_matches, upscale: int, notes: dict, matched_name) -> None:
    """Each row: its label, the generated images, and (when compared) their matches under them, with
    the classes of those training images."""
    for position, (label, row, matches) in enumerate(zip(row_labels, rows, row_matches or [None] * len(rows))):
        name_column, image_column = st.columns([1, 12], vertical_alignment="center")
        if label:
            name_column.markdown(f"**{plain(label)}**" + (" :orange[:material/warning:]" if position in notes else ""))
        if matches is None:
            image_column.image(make_grid_image(row, nrow=len(row), upscale=upscale), output_format="PNG")
        else:
            compared = [row, matches.images] + ([] if matches.reconstructions is None else [matches.reconstructions])
            image_column.image(side_by_side(compared, upscale=upscale), output_format="PNG")
            distances = " · ".join(f"{value:.3f}" for value in matches.distances.tolist())
            image_column.caption(f"Nearest training images, their classes: "
                                 f"{' · '.join(plain(matched_name(index)) for index in matches.indices.tolist())}  \n"
                                 f"Distance to each: {distances}")
        if position in notes:
            image_column.warning(notes[position], icon=":material/warning:")


st.title("Class sampler")
st.caption("Fit a distribution to the encoded training images of each class, draw new codes from it and "
           "decode them, or perturb the codes of real images with noise. Next to each sample: the closest "
           "training image and its class, so you can see whether the sample is new.")
run = require_active_run(need_encoder=True)
model = run.model
dataset = encoded = None
with user_errors("The dataset could not be loaded: "):
    dataset = active_dataset()
if dataset is not None:
    with user_errors("The training set could not be encoded: "):
        encoded = _encoded_train(*run_key(run), model, dataset)
if encoded is None:
    st.stop()
latents, labels = encoded
labelled = labels is not None
if not labelled:
    st.info("This dataset has no class labels, so each sampler is fitted to all training codes as one group.")

all_classes = sorted(set(labels.tolist())) if labelled else []
fit_latents, fit_labels = latents, labels  # the codes the samplers are fitted to
if len(all_classes) > MAX_CLASSES:  # an imported run may have any number: bound what one visit fits and draws
    kept = labels <= all_classes[MAX_CLASSES - 1]  # the classes are sorted: the first MAX_CLASSES of them
    st.info(f"This model's dataset has {len(all_classes):,} classes; this page fits and draws the first "
            f"{MAX_CLASSES} of them on this server.")
    fit_latents, fit_labels, all_classes = latents[kept], labels[kept], all_classes[:MAX_CLASSES]
URL_PARAMS = [UrlParam("sampler", KIND_KEY, "choice", choices=tuple(SAMPLER_CHOICES)),
              UrlParam("k", COMPONENTS_KEY, "int", 1, MAX_COMPONENTS),
              UrlParam("cov", COVARIANCE_KEY, "choice", choices=tuple(COVARIANCE_TYPES)),
              UrlParam("show", "class_sampler_layout", "choice", choices=tuple(LAYOUTS)),
              UrlParam("class", "class_sampler_class", "choice", choices=tuple(all_classes)),
              UrlParam("n", "class_sampler_per_class", "int", 1, 16),
              UrlParam("total", "class_sampler_total", "int", 1, 100),
              UrlParam("seed", "class_sampler_seed", "int", 0, 1_000_000),
              UrlParam("inspect", INSPECT_KEY, "bool"),
              UrlParam("mixture_class", INSPECT_CLASS_KEY, "choice", choices=tuple(all_classes)),
              UrlParam("kmax", LARGEST_K_KEY, "int", 1, MAX_CURVE_K),
              UrlParam("component", COMPONENT_KEY, "int", 0, MAX_COMPONENTS - 1)]
counts = [int((fit_labels == label).sum()) for label in all_classes] if labelled else [len(fit_latents)]
limits = component_limits(counts, fit_latents.shape[1])
for key, value in ((KIND_KEY, "gmm"), (COMPONENTS_KEY, min(10, limits["full"])), ("class_sampler_layout", "rows"),
                   ("class_sampler_per_class", 8), ("class_sampler_total", 30), ("class_sampler_seed", 0),
                   (LARGEST_K_KEY, 20), (COMPONENT_KEY, 0)):
    st.session_state.setdefault(key, value)
url_state.restore(URL_PARAMS)

# -- the sampler ------------------------------------------------------------------------------
st.subheader("Sampler")
with presentation.settings("Sampler settings"):
    kind = st.segmented_control("Sampler", list(SAMPLER_CHOICES), format_func=SAMPLER_CHOICES.get, key=KIND_KEY,
                                label_visibility="collapsed") or "gmm"
fit_settings, draw_settings = {}, {}
if kind == "gmm":
    with presentation.settings("Mixture settings"), st.form("class_sampler_gmm_form", border=False):
        k_column, covariance_column, button_column = st.columns([2, 2, 1], vertical_alignment="bottom")
        components = k_column.number_input("Components per class (K)", 1, MAX_COMPONENTS, key=COMPONENTS_KEY,
                                           help="Each class gets its own mixture of K Gaussians. A large K (up to "
                                                "250) follows the codes closely; with few codes per component it "
                                                "starts to copy training images.")
        covariance = covariance_column.selectbox("Covariance", COVARIANCE_TYPES, key=COVARIANCE_KEY,
                                                 help="full: own covariance per component; tied: one shared; "
                                                      "diag: per-dimension variances; spherical: one variance.")
        button_column.form_submit_button("Fit mixtures", type="primary", width="stretch", key="class_sampler_fit")
    presentation.note("Largest K for this data: " + " · ".join(f"{name} {limit}" for name, limit in limits.items())
               + (f" (the smallest class has {min(counts)} codes" if labelled else f" ({min(counts)} codes")
               + f" in {latents.shape[1]} dimensions). "
               "Mixtures start from k-means.")
    fit_settings = {"n_components": int(components), "covariance_type": covariance, "seed": 0}
elif kind == "gaussian":
    draw_settings["covariance_scale"] = st.slider(
        "Covariance scale", 0.0, 2.0, 0.5, step=0.05, key="class_sampler_covariance_scale",
        help="Multiplies each class covariance when drawing. Below 1 keeps samples near the class centre, so "
             "they stay recognisable; 1 is the fitted Gaussian, which mixes in look-alike classes.")
elif kind == "perturb":
    noise_column, relative_column = st.columns([3, 1], vertical_alignment="bottom")
    draw_settings["noise_std"] = noise_column.slider("Noise level", 0.0, 3.0, 0.5, step=0.05,
                                                     key="class_sampler_noise")
    draw_settings["relative"] = relative_column.toggle(
        "Relative noise", True, key="class_sampler_noise_relative",
        help="On: the noise is a fraction of how much the codes vary per dimension; off: in latent units.")
else:
    if model.has_prior:
        st.caption("Codes drawn from the standard normal prior; they have no class.")
    else:
        st.caption("A plain autoencoder has no prior: these codes come from a Gaussian that follows its training "
                   "codes (each dimension's mean and spread, recorded while it trained); they have no class. It "
                   "ignores how the dimensions vary together and where each class lies; the class samplers fix "
                   "exactly that.")

fitted = None
try:
    fitted = _fitted_sampler(run, kind, fit_settings, fit_latents, fit_labels)
except TooManyComponentsError as error:
    _explain_too_many(error)
except GenCoreError as error:
    st.error(f"The sampler could not be fitted: {error}")
if fitted is None:
    st.stop()
sampler, fit_seconds = fitted
if kind != "prior":
    took = f"{fit_seconds:.1f} s" if fit_seconds >= 0.1 else "under 0.1 s"
    what = (f"a {fit_settings['n_components']}-component {fit_settings['covariance_type']} mixture per "
            f"{'class' if labelled else 'group'}" if kind == "gmm" else SAMPLER_CHOICES[kind].lower())
    presentation.note(f"Fitted {what} to {len(fit_latents):,} encoded training images in {took} (cached for this model).")
if draw_settings:
    sampler = copy.copy(sampler)  # the cached one is shared; draw-time settings go on a copy
    for name, value in draw_settings.items():
        setattr(sampler, name, value)

# -- the samples ------------------------------------------------------------------------------
st.subheader("Samples")
classes = all_classes if kind != "prior" else []
class_name = (lambda label: dataset.class_names[label] if label < len(dataset.class_names) else str(label))
by_class, chosen_class = False, None
with presentation.settings("Which samples"):
    with st.container(horizontal=True, vertical_alignment="bottom"):
        if classes:
            by_class = st.radio("Show", list(LAYOUTS), format_func=LAYOUTS.get, key="class_sampler_layout",
                                width=170) == "rows"
            if not by_class:
                chosen_class = st.selectbox("Class", classes, format_func=class_name, key="class_sampler_class",
                                            width=160)
        if by_class:
            per_class = st.slider("Samples per class", 1, 16, key="class_sampler_per_class", width=240)
        else:
            total = st.slider("Samples", 1, 100, key="class_sampler_total", width=240)
        seed = st.number_input("Seed", 0, 1_000_000, key="class_sampler_seed", width=140)
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        compare = st.toggle("Show the nearest training images", True, key="class_sampler_compare",
                            help="Under each sample: the most similar training image and the model's "
                                 "reconstruction of it, with the class of that image and its distance.")
        metric = st.radio("Distance", ("mse", "bce"), horizontal=True, key="class_sampler_metric",
                          disabled=not compare, format_func=str.upper, label_visibility="collapsed",
                          help="Mean per-pixel squared error, or binary cross-entropy (the loss the digit "
                               "autoencoders train with).")

rows = row_matches = None
with user_errors("Sampling failed: "):
    if by_class:
        if len(classes) > MAX_CLASS_ROWS:
            st.caption(f"Showing the first {MAX_CLASS_ROWS} of {len(classes)} classes, one row each; choose "
                       "*one class* above to draw any other.")
            classes = classes[:MAX_CLASS_ROWS]
        rows = draw_class_rows(model, sampler, per_class, classes, seed=seed)
        row_labels = [class_name(label) for label in classes]
    else:
        drawn = draw_class_rows(model, sampler, total, [chosen_class], seed=seed)[0]
        rows = [drawn[first:first + PER_ROW] for first in range(0, total, PER_ROW)]
        row_labels = [class_name(chosen_class) if chosen_class is not None else ""] + [""] * (len(rows) - 1)
    if compare:
        row_matches = nearest_matches_by_row(model, rows, dataset.train_images, latents, metric=metric)
if rows is None:
    url_state.publish(URL_PARAMS)
    st.stop()
notes = {}
if classes:
    row_classes = classes if by_class else [chosen_class] * len(rows)
    with user_errors("The samples' classes could not be checked: "):
        notes = class_check_notes(dataset, rows, row_classes, class_name)
if compare:
    presentation.note("Each block: **generated** images on top, the **nearest training image** under each, and the "
                      "model's **reconstruction** of that training image at the bottom.")
train_labels = None if dataset.train_labels is None else dataset.train_labels.tolist()
with presentation.main_picture():  # at least 120 px a frame in the lecture view (28 px digits, 5x)
    _show_rows(row_labels, rows, row_matches, display_upscale(model.image_shape, 140 if presentation.is_on() else 48),
               notes, lambda index: "?" if train_labels is None else class_name(int(train_labels[index])))
if notes:
    st.warning("Some rows mostly show another class than the one they were drawn for (marked): this model "
               "or sampler does not separate those classes well enough. Train longer, or try more components.",
               icon=":material/warning:")
training_note(run)

if row_matches:
    sample_median = statistics.median(value for matches in row_matches for value in matches.distances.tolist())
    baseline = None
    with user_errors():
        baseline = _novelty_baseline(*run_key(run), metric, model, dataset)
    st.markdown(f"**Median distance ({metric.upper()}) to the nearest training image**")
    sample_column, baseline_column = st.columns(2)
    sample_column.metric("These samples", f"{sample_median:.4f}")
    if baseline is not None:
        baseline_column.metric("Reconstructions of unseen test images", f"{baseline:.4f}")
        st.caption("The test images were never trained on, so the model's reconstructions of them show how close "
                   "a genuinely new output comes to the training set. Samples about as close are new; samples "
                   "far closer are near-copies of training images (try a large K with few codes per class).")

grid = side_by_side(rows, upscale=2)
st.download_button("Download samples (PNG)", partial(png_bytes, grid), file_name="class-samples.png",
                   mime="image/png", icon=":material/download:", key="class_sampler_download", on_click="ignore")

# -- inside one class's mixture ---------------------------------------------------------------
if kind == "gmm":
    st.subheader("Inside one class's mixture")
    inspect = st.toggle("Inspect one class's mixture", key=INSPECT_KEY,
                        help="How many Gaussians the class needs (BIC and AIC over K), the weight and decoded "
                             "mean of each component, and samples from one component only.")
    if inspect:
        with presentation.settings("Mixture inspector settings"), st.container(horizontal=True,
                                                                                 vertical_alignment="bottom"):
            inspected = None
            if labelled:
                st.session_state.setdefault(INSPECT_CLASS_KEY, chosen_class if chosen_class is not None
                                            else all_classes[0])
                inspected = st.selectbox("Class", all_classes, format_func=class_name, key=INSPECT_CLASS_KEY,
                                         width=160)
            largest_k = st.number_input("Largest K on the curve", 1, MAX_CURVE_K, key=LARGEST_K_KEY, width=200,
                                        help=f"BIC and AIC are computed for K = 1 up to this (at most {MAX_CURVE_K} "
                                             "here; `python -m gen_core gmm` goes further).")
        codes = fit_latents[fit_labels == inspected] if labelled else fit_latents
        covariance = fit_settings["covariance_type"]
        supported = max_components(len(codes), codes.shape[1], covariance)
        who = f"Class {class_name(inspected)}" if labelled else "The training set"
        if largest_k > supported:
            st.info(f"{who} has {len(codes):,} codes in {codes.shape[1]} dimensions: with {covariance} "
                    f"covariances that supports at most K = {supported}, so the curve stops there.")
        criteria = None
        with user_errors("The information criteria could not be computed: "):
            criteria = _criteria(*run_key(run), inspected, int(min(largest_k, supported)), covariance, codes)
        if criteria is not None:
            best_k = criteria["best_k"]
            st.plotly_chart(presentation.style_figure(criteria_figure(criteria)), width="stretch",
                            key="class_sampler_criteria")
            with st.container(horizontal=True, vertical_alignment="center"):
                st.markdown(f"Lowest BIC at **K = {best_k}**; the mixtures above use K = {sampler.n_components}.")
                if best_k != sampler.n_components:
                    st.button(f"Use K = {best_k}", key="class_sampler_use_best", on_click=_use_components,
                              args=(best_k,), icon=":material/auto_fix_high:")
            presentation.note("BIC and AIC weigh how well a mixture fits the codes against how many numbers it "
                              "needs; lower is better. BIC charges more per component, so it picks a smaller K.")
        mixture = sampler.mixture_of(inspected if labelled else None)
        count = len(mixture.weights_)
        requested = st.session_state.get(COMPONENT_KEY, 0)
        try:
            sampler.one_component(requested)
        except SamplerError as error:  # a link's component, or one left over from a larger K
            st.error(f"{public_message(error)} Showing component 0 instead.")
            st.session_state[COMPONENT_KEY] = 0
        with presentation.settings("Component"):
            component = st.selectbox("Component", list(range(count)), key=COMPONENT_KEY, width=260,
                                     format_func=lambda index: f"{index} (weight {mixture.weights_[index]:.3f})")
        st.markdown(f"**Weight of each of the {count} components**")
        st.plotly_chart(presentation.style_figure(weights_figure(mixture.weights_, chosen=component)),
                        width="stretch", key="class_sampler_weights")
        upscale = display_upscale(model.image_shape, 64 if presentation.is_on() else 36)
        with user_errors("The component means could not be decoded: "):
            means = _decoded_means(*run_key(run), inspected, tuple(sorted(fit_settings.items())), model,
                                   mixture.means_)
            st.markdown("**Each component's mean, decoded** (components 0 to "
                        f"{count - 1}, left to right)")
            st.image(make_grid_image(means, nrow=min(count, 2 * PER_ROW), upscale=upscale), output_format="PNG")
        with user_errors("Sampling one component failed: "):
            drawn = draw_class_rows(model, sampler.one_component(component), PER_ROW,
                                    [inspected if labelled else None], seed=seed)[0]
            st.markdown(f"**{PER_ROW} samples from component {component} only**")
            st.image(make_grid_image(drawn, nrow=PER_ROW, upscale=upscale), output_format="PNG")
url_state.publish(URL_PARAMS)
url_state.link_box()
