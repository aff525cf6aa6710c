"""Latent map: where the test images land in the latent space, and what its landmarks decode to."""

from __future__ import annotations

from functools import partial

import streamlit as st

from gen_core.images import make_grid_image, png_bytes, to_pil
from gen_core.latent import (average_kl_per_dimension, build_latent_map, class_mean_path, decode_latents,
                             decode_map_points, decoded_basis_vectors, decoded_class_means, encode_dataset,
                             has_posterior, image_posterior, manifold_images, mean_activity, posterior_codes,
                             posterior_ellipse, project_to_map, projector_export, unused_dimensions)
from gen_core.models import family_label
from ui import presentation, url_state
from ui.compare import COMPARE_PARAM, compare_picker
from ui.components.browser_decoder import live_map
from ui.components.drawing_pad import current_drawing, drawing_pad
from ui.explore_widgets import run_key
from ui.latent_arithmetic import arithmetic_params, arithmetic_section
from ui.neighbours import neighbours_panel
from ui.projection_widgets import choose_projection, map_caption, projected, projection_params
from ui.state import active_dataset, require_active_run, user_errors
from ui.timeline import timeline_section
from ui.url_state import UrlParam
from ui.views.latent_map import (MAP_COLORS, class_pair_presets, drawing_trace, eigenvalue_figure, nearest_point,
                                 scatter_figure, selected_indices)
from ui.views.pictures import display_upscale, stack_images
from ui.views.posterior import ellipse_traces, kl_bar_figure
from ui.text import plain

CLASSES_KEY = "latent_map_classes"   # session key: the classes the scatter shows
INDEX_KEY = "latent_map_index"       # session key: the test image shown beside the map
CHART_KEY = "latent_map_scatter"     # session key: the scatter's selection
OTHER_CHART_KEY = "latent_map_scatter_vs"  # session key: the second model's scatter's selection
DRAW_KEY = "latent_map_draw"         # session key prefix: the drawing pad's
POINT_WIDTH_PX = 150


@st.cache_data(show_spinner="Encoding the test set and fitting the PCA…", max_entries=4)
def _latent_map(path: str, mtime: float, _model, _dataset):
    return build_latent_map(_model, _dataset.test_images, _dataset.test_labels, _dataset.class_names)


@st.cache_data(show_spinner="Averaging the KL term of each dimension over the test set…", max_entries=8)
def _average_kl(path: str, mtime: float, _model, _dataset):
    return average_kl_per_dimension(_model, _dataset.test_images)


@st.cache_data(show_spinner="Measuring how much each dimension varies over the test set…", max_entries=8)
def _mean_activity(path: str, mtime: float, _model, _dataset):
    return mean_activity(_model, _dataset.test_images)


# The decoded pictures below are the same for every visitor of a model with the same settings, so they
# are made once and shared (a room opening one lesson's link costs the server one decode, not thirty).
@st.cache_resource(show_spinner=False, max_entries=32)
def _basis_grid(path: str, mtime: float, scale: float, upscale: int, _model):
    basis = decoded_basis_vectors(_model, scale=scale)
    return make_grid_image(basis, nrow=min(16, len(basis)), upscale=upscale), len(basis)


@st.cache_resource(show_spinner=False, max_entries=8)
def _class_means_grid(path: str, mtime: float, upscale: int, _model, _latent_map):
    _means, images = decoded_class_means(_model, _latent_map)
    return make_grid_image(images, nrow=len(images), upscale=upscale)


@st.cache_resource(show_spinner=False, max_entries=32)
def _class_path_grid(path: str, mtime: float, class_a: int, class_b: int, steps: int, upscale: int, _model,
                     _latent_map):
    return make_grid_image(class_mean_path(_model, _latent_map, class_a, class_b, steps), nrow=steps,
                           upscale=upscale)


@st.cache_resource(show_spinner="Decoding the manifold…", max_entries=16)
def _manifold_grid(path: str, mtime: float, size: int, _model, _latent_map):
    return make_grid_image(manifold_images(_model, _latent_map, size), nrow=size, padding=0,
                           upscale=max(1, round(640 / (size * _model.image_shape[-1]))))


def _show_classes(classes) -> None:
    st.session_state[CLASSES_KEY] = list(classes)


def _pick_clicked_point(key: str = CHART_KEY) -> None:
    """A click on a map selects that test image in the number box beside it."""
    indices = selected_indices(st.session_state.get(key))
    if indices:
        st.session_state[INDEX_KEY] = indices[0]


def _keep_valid(key: str, valid, fallback) -> None:
    """Reset a remembered widget value that does not fit the current run (after switching models)."""
    value = st.session_state.get(key)
    if value is None or (isinstance(value, list) and not set(value) <= set(valid)) or \
            (not isinstance(value, list) and value not in valid):
        st.session_state[key] = fallback


def _position_of(latent_map, classes, name: str, fallback: int) -> int:
    """Where the class called ``name`` sits among ``classes`` (1 -> 7 by default: similar strokes)."""
    names = [latent_map.class_name(label) for label in classes]
    return names.index(name) if name in names else fallback % len(classes)


def _picture(image, caption: str) -> None:
    """A grid at its own pixel size (a caption under a small image would otherwise stretch it)."""
    st.image(image, width=presentation.scaled(image.width), output_format="PNG")
    st.caption(caption)


def _projector_zip(name: str, latent_map, images) -> bytes:
    """The test set's codes, labels and thumbnails as a zip for TensorBoard's Embedding Projector."""
    return projector_export(latent_map.latents, images, latent_map.labels, latent_map.class_names,
                            name=f"{name} (test)").zip_bytes(f"{name}-projector")


def _download(label: str, image, file_name: str, key: str) -> None:
    st.download_button(label, partial(png_bytes, image), file_name=file_name, mime="image/png",  # made on click
                       icon=":material/download:", key=key, on_click="ignore")


def _posterior(each_model, image):
    """A VAE's posterior for the chosen image (its ellipses go on the map), else None."""
    if not has_posterior(each_model):
        return None
    with user_errors("The encoder's distribution could not be computed: "):
        return image_posterior(each_model, image)
    return None


def _map_chart(each_map, shown, key: str, each_posterior, height: int, extra=(), projection=None) -> None:
    """One model's scatter of the test codes (on its PCA plane, or in ``projection``), the chosen image
    ringed (and ``extra`` traces: a drawing's star), and what the picture keeps. The posterior's ellipses
    live on the PCA plane only."""
    chosen = int(st.session_state[INDEX_KEY])
    overlays = [] if each_posterior is None or projection is not None else \
        list(ellipse_traces(posterior_ellipse(each_posterior, each_map), chosen))
    overlays += list(extra)
    figure = scatter_figure(each_map, shown, highlight=chosen, height=height, overlays=overlays,
                            marker_size=round(9 * presentation.CHART_MARKER_SCALE[presentation.is_on()]),
                            projection=projection)
    st.plotly_chart(presentation.style_figure(figure), key=key, on_select=partial(_pick_clicked_point, key),
                    selection_mode="points", width="stretch")
    st.caption(map_caption(each_map, projection, each_posterior is not None, chosen))


def _projector_button(each, each_map, images) -> None:
    st.download_button("Download for the Embedding Projector", partial(_projector_zip, each.name, each_map, images),
                       file_name=f"{each.name}-projector.zip", mime="application/zip", icon=":material/download:",
                       key="latent_map_projector_download", on_click="ignore",  # the zip is made on click
                       help="The test set's codes, class labels and thumbnails. Unzip it and run `tensorboard "
                            "--logdir` on the folder: its Projector tab adds t-SNE, UMAP and nearest neighbours.")


st.title("Latent map")
st.caption("Where the test images land in the latent space (a PCA to two dimensions, or t-SNE or UMAP), how many "
           "dimensions "
           "the code really uses, and what some landmarks of the space decode to: the basis vectors, the class "
           "means and the path between two of them.")
run = require_active_run(need_encoder=True)
model = run.model
dataset = latent_map = None
with user_errors("The dataset could not be loaded: "):
    dataset = active_dataset()
if dataset is not None:
    with user_errors("The test set could not be encoded: "):
        latent_map = _latent_map(*run_key(run), model, dataset)
if latent_map is None:
    st.stop()
upscale = display_upscale(model.image_shape, 84 if presentation.is_on() else 56)  # 126 px shown, lecture view
classes = latent_map.present_classes()
url_params = [UrlParam("classes", CLASSES_KEY, "ints", 0, max(classes, default=0), max_items=len(classes) or 1),
              UrlParam("img", INDEX_KEY, "int", 0, len(latent_map.latents) - 1),
              UrlParam("from", "latent_map_mean_from", "choice", choices=tuple(classes)),
              UrlParam("to", "latent_map_mean_to", "choice", choices=tuple(classes)),
              UrlParam("steps", "latent_map_mean_steps", "int", 3, 20), COMPARE_PARAM, *arithmetic_params(classes),
              *projection_params(len(latent_map.latents))]
url_state.restore(url_params)

# -- the map ----------------------------------------------------------------------------------
method, projection_settings = choose_projection(latent_map.latent_dim, len(latent_map.latents))
projection = None
with user_errors("The projection could not be computed, so the PCA is shown: "):
    projection = projected(run, latent_map, method, projection_settings)
if projection is not None:
    st.subheader(f"The test set in a {projection_settings.dims}-D {projection.label} of its "
                 f"{latent_map.latent_dim}-d codes")
else:
    st.subheader("The test set in the latent plane (z1, z2)" if latent_map.latent_dim == 2 else
                 "The test set along its first two principal directions")
shown = None
last_index = len(latent_map.latents) - 1
_keep_valid(INDEX_KEY, range(last_index + 1), 0)
with presentation.settings("Classes shown, second model" if classes else "Second model"):
    if classes:
        _keep_valid(CLASSES_KEY, classes, classes)
        shown = st.multiselect("Show classes", classes, format_func=latent_map.class_name, key=CLASSES_KEY)
        with st.container(horizontal=True, vertical_alignment="center"):
            st.caption("Quick picks:", width="content")
            st.button("All classes", key="latent_map_preset_all", on_click=_show_classes, args=(classes,))
            for title, pair in class_pair_presets(latent_map.class_names).items():
                st.button(title, key=f"latent_map_preset_{title.replace(' ', '_')}", on_click=_show_classes,
                          args=(pair,), help=f"Only classes {title}: a pair the code keeps apart, or one it mixes.")
    other = compare_picker(run, need_encoder=True)
other_map = None
if other is not None and tuple(other.model.image_shape) != tuple(model.image_shape):
    st.info(f"**{plain(other.name)}** draws {'x'.join(map(str, other.model.image_shape))} images, not "
            f"{'x'.join(map(str, model.image_shape))} like these test images, so it cannot encode them.")
elif other is not None:
    with user_errors(f"{plain(other.name)} could not encode the test set: "):
        other_map = _latent_map(*run_key(other), other.model, dataset)
projections = {run.name: projection}
if other_map is not None and projection is not None:  # the second map in the same projection as the first
    with user_errors(f"The projection of {plain(other.name)}'s codes could not be computed: "):
        projections[other.name] = projected(other, other_map, method, projection_settings)
maps = [(run, latent_map, CHART_KEY)] + ([(other, other_map, OTHER_CHART_KEY)] if other_map is not None else [])
chosen = int(st.session_state[INDEX_KEY])
posteriors = [_posterior(each.model, dataset.test_images[chosen]) for each, _map, _key in maps]
posterior = posteriors[0]
drawing, drawn_code, drawn_star = current_drawing(DRAW_KEY, model.image_shape), None, []  # the pad is further down
if drawing.image is not None:
    with user_errors("The drawing could not be encoded: "):
        drawn_code = encode_dataset(model, drawing.image[None])[0]
        if projection is None:  # its star goes on the (first) PCA map; t-SNE and UMAP cannot place a new point
            drawn_star = [drawing_trace(project_to_map(drawn_code[None], latent_map)[0],
                                        round(9 * presentation.CHART_MARKER_SCALE[presentation.is_on()]))]
        else:
            st.caption("Your drawing is marked on the PCA map only: t-SNE and UMAP place the images they were "
                       "given and have no place for a new one.")
# the x-axis above the fold at 768 in the lecture view, the two models' titles above a pair of maps included
height = (420 if other_map is not None else 470) if presentation.is_on() else 480
if classes and not shown:
    st.info("Choose at least one class to show.")
if other_map is None:
    map_column, point_column = st.columns([3, 1], gap="small")
    with map_column, presentation.main_picture():
        _map_chart(latent_map, shown, CHART_KEY, posterior, height, drawn_star, projection)
        _projector_button(run, latent_map, dataset.test_images)
else:
    with presentation.main_picture():
        for column, (each, each_map, key), each_posterior in zip(st.columns(2, gap="small"), maps, posteriors):
            with column:
                st.markdown(f"**{plain(each.name)}** · {plain(family_label(each.family))}")
                _map_chart(each_map, shown, key, each_posterior, height, drawn_star if each is run else [],
                           projections.get(each.name))
    presentation.note(f"The same {len(latent_map.latents)} test images encoded by each model, at the same size. "
                      "Read the axes as well as the shapes: a plain autoencoder puts its codes wherever training "
                      "left them, at any scale and with gaps between the classes; a VAE's prior packs them into "
                      "one cloud around 0, about one unit wide.")
    _projector_button(run, latent_map, dataset.test_images)
    point_column = st.container(horizontal=True)
with point_column:
    index = st.number_input(f"Test image (0 to {last_index})", min_value=0, max_value=last_index, step=1,
                            key=INDEX_KEY, width=200 if other_map is not None else "stretch",
                            help="Click a point in the map, or type a test-set index. The chosen image is ringed "
                                 "in the map.")
    label = "" if latent_map.labels is None else \
        f", class {plain(latent_map.class_name(int(latent_map.labels[index])))}"
    st.image(to_pil(dataset.test_images[index], upscale), caption=f"Test image #{index}{label}",
             width=presentation.scaled(POINT_WIDTH_PX), output_format="PNG")
    for each, each_map, _key in maps:
        st.image(to_pil(decode_map_points(each.model, each_map, [index])[0], upscale), output_format="PNG",
                 caption="Its reconstruction" if other_map is None else f"Reconstructed by {plain(each.name)}",
                 width=presentation.scaled(POINT_WIDTH_PX))


def _pick_nearest(values) -> None:
    """A click on the live pad shows the test image nearest to it beside the map."""
    st.session_state[INDEX_KEY] = nearest_point(latent_map, values)


live_map(run, latent_map, MAP_COLORS, presentation.scaled(POINT_WIDTH_PX), on_release=_pick_nearest,
         before=lambda: st.markdown("**Walk the plane**: move the pointer over it and the code under the pointer is "
                                    "decoded at once; click to show the nearest test image beside the map."))
timeline_section(run, dataset, shown)

# -- nearest training images and a drawing ------------------------------------------------------
st.subheader(f"Nearest training images to test image #{index}")
neighbours_panel(run, dataset, dataset.test_images[index], "latent_map_neighbours", code=latent_map.latents[index])
st.subheader("Draw a digit")
pad_column, drawn_column = st.columns(2, gap="medium")
with pad_column:
    drawing_pad(DRAW_KEY, drawing)
if drawn_code is not None:
    with drawn_column, user_errors("The drawing could not be redrawn: "):
        _picture(make_grid_image(stack_images([drawing.image, decode_latents(model, drawn_code[None])[0]]), nrow=2,
                                 upscale=upscale),
                 "Your drawing as the model takes it (scaled and centred like the training digits), and its "
                 "reconstruction. The gold star on the map marks its code.")
    st.markdown("**Nearest training images to your drawing**")
    neighbours_panel(run, dataset, drawing.image, "latent_map_draw_neighbours", code=drawn_code)

# -- the encoder as a distribution (VAEs) ------------------------------------------------------
if posterior is not None:
    st.subheader(f"The encoder as a distribution: test image #{index}")
    with user_errors("The KL terms could not be computed: "):
        average_kl = _average_kl(*run_key(run), model, dataset)
        unused = unused_dimensions(_mean_activity(*run_key(run), model, dataset))
        st.plotly_chart(presentation.style_figure(kl_bar_figure(posterior, average_kl, unused)),
                        key="latent_map_kl_bars", width="stretch")
        unused_note = (f" {int(unused.sum())} of the {len(unused)} dimensions are unused (grey): their mean hardly "
                       "moves from one test image to the next (variance at most 0.01), so they tell the decoder "
                       "nothing about the image, whatever KL they cost." if unused.any()
                       else " The model uses every dimension.")
        st.caption(f"Each dimension's KL term, KL(N(μ_i, σ_i²) ‖ N(0, 1)) in nats: this image's bars sum to its "
                   f"KL term, {posterior.total_kl:.2f} nats; the test set's average is {average_kl.sum():.2f}."
                   f"{unused_note}")
        draws = decode_latents(model, posterior_codes(posterior, 8, seed=index))
        _picture(make_grid_image(draws, nrow=8, upscale=upscale),
                 "Eight codes drawn from the encoder's distribution for this image, decoded: the images it could "
                 "have been encoded as.")

# -- the spectrum -----------------------------------------------------------------------------
st.subheader("Eigenvalue spectrum")
st.plotly_chart(presentation.style_figure(eigenvalue_figure(latent_map)), key="latent_map_eigenvalues",
                width="stretch")
st.caption("Eigenvalues of the codes' covariance, largest first. A slow, steady decay means the code uses "
           "all its dimensions and any 2-D picture of it leaves much out; a sharp drop means a few "
           "directions carry nearly everything.")

# -- decoded landmarks ------------------------------------------------------------------------
st.subheader("Decoded standard basis vectors")
spread = latent_map.code_spread
limit = float(max(5, round(6 * spread)))
scale = st.slider("Length of each basis vector", -limit, limit, latent_map.basis_scale, step=0.1,
                  key="latent_map_basis_scale",
                  help=f"Codes of this model vary by about ±{spread:.2f} per coordinate; the default is three "
                       "times that, far enough out to show what each direction encodes. Length 1 is one unit of "
                       "the prior for a VAE.")
with user_errors():
    basis_grid, count = _basis_grid(*run_key(run), float(scale), upscale, model)
    _picture(basis_grid, f"decode({scale:g} · e_i) for i = 1 … {count}, left to right, top to bottom. "
             "Recognisable shapes suggest the code clusters whole images rather than composing parts.")
    _download("Download basis vectors", basis_grid, "basis-vectors.png", "latent_map_basis_download")

st.subheader("Class means and the path between two of them")
if not classes:
    st.info("This dataset has no class labels, so there are no class means, paths between them or latent "
            "arithmetic to show.")
else:
    with user_errors():
        _picture(_class_means_grid(*run_key(run), upscale, model, latent_map),
                 "Decoded mean code of each class: " + ", ".join(plain(latent_map.class_name(c)) for c in classes))
    _keep_valid("latent_map_mean_from", classes, classes[_position_of(latent_map, classes, "1", 0)])
    _keep_valid("latent_map_mean_to", classes, classes[_position_of(latent_map, classes, "7", -1)])
    st.session_state.setdefault("latent_map_mean_steps", 10)
    with presentation.settings("Which two classes"):
        first_column, second_column, steps_column = st.columns(3)
        class_a = first_column.selectbox("From class", classes, format_func=latent_map.class_name,
                                         key="latent_map_mean_from")
        class_b = second_column.selectbox("To class", classes, format_func=latent_map.class_name,
                                          key="latent_map_mean_to")
        steps = steps_column.slider("Steps", 3, 20, key="latent_map_mean_steps")
    with user_errors():
        path_grid = _class_path_grid(*run_key(run), int(class_a), int(class_b), int(steps), upscale, model,
                                     latent_map)
        _picture(path_grid, f"(1 − t) · mean({plain(latent_map.class_name(class_a))}) + t · "
                 f"mean({plain(latent_map.class_name(class_b))}), t from 0 to 1: the decoder warps one class into the "
                 "other rather than cross-fading.")
        _download("Download path", path_grid, "class-mean-path.png", "latent_map_path_download")
    arithmetic_section(run, latent_map, dataset.test_images[index], index)

if model.latent_dim == 2:
    st.subheader("Manifold of the 2-D latent space")
    size = st.slider("Images per side", 5, 30, 15, key="latent_map_manifold_size")
    with user_errors():
        manifold = _manifold_grid(*run_key(run), int(size), model, latent_map)
        _picture(manifold, "Images decoded on an even grid of the latent plane "
                 + ("(N(0, 1) quantiles, so each cell holds equal prior mass)." if model.is_variational
                    else "(three standard deviations of the codes either side of their mean)."))
        _download("Download manifold", manifold, "latent-manifold.png", "latent_map_manifold_download")
else:
    st.caption(f"The decoded manifold grid needs a 2-d latent space; this model's has {model.latent_dim} dimensions.")
url_state.publish(url_params)
url_state.link_box()
