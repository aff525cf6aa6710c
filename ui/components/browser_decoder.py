"""The in-browser decoder: a Streamlit component (components v2, no front-end build) that runs a
run's decoder in the visitor's browser with onnxruntime-web and redraws a canvas on every input
event, so the picture follows the hand while a slider drags or the pointer moves over a map.

How the pieces meet:

* the runtime (``ort.wasm.bundle.min.mjs`` and its ``.wasm``) comes from the npm registry at
  set-up (``make``: web/package.json, copied into ``static/onnxruntime-web/``) and the app serves
  it itself (``server.enableStaticServing``): nothing comes from a CDN;
* each run's decoder is exported once per weights version (``gen_core.run.onnx_export``) and copied to
  ``static/decoders/<token>.onnx``. The token is an HMAC of the weights' digest under a secret
  drawn when the server starts, so it cannot be guessed: a browser learns the address only
  through a page that shows that run, which is where the classroom rules are applied. No name
  or path from a run folder ever reaches the browser;
* the component gets a code as ``origin + sum_i c_i * directions_i`` (every slider set, mix and
  map here is affine in its controls), decodes on each ``input`` event, and reports the controls
  to Python on release (``values``), so links and the rest of the page work as before.

When it cannot run (runtime files missing, the operator turned it off, the decoder too large,
the browser has no WebAssembly or failed to load it), ``available`` or the component says why and
the page decodes on the server as it always did.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

from gen_core.atomic import write_bytes_atomic
from gen_core.errors import GenCoreError
from gen_core.latent import LatentPCA, latent_from_pca_coords
from gen_core.run.onnx_export import decoder_for_run

APP_DIR = Path(__file__).resolve().parents[2]
STATIC_DIR = APP_DIR / "static"  # Streamlit serves this folder at app/static/ (server.enableStaticServing)
RUNTIME_DIR = STATIC_DIR / "onnxruntime-web"
RUNTIME_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
DECODERS_DIR = STATIC_DIR / "decoders"
KEEP_DECODERS = 64  # exported decoders kept for browsers; the oldest go first
SWITCH = "LATENT_LAB_BROWSER_DECODE"  # "off": every page decodes on the server
FAILED = "browser_decoder_failed"  # session key: why this visitor's browser could not decode
_SECRET = secrets.token_bytes(32)  # new every server start: decoder addresses cannot be guessed


@dataclass(frozen=True)
class ServedDecoder:
    url: str  # relative to the page: app/static/decoders/<token>.onnx
    latent_dim: int
    image_shape: tuple[int, int, int]


def runtime_installed() -> bool:
    return all((RUNTIME_DIR / name).is_file() for name in RUNTIME_FILES)


def unavailable_reason() -> str | None:
    """Why pages must decode on the server for this visitor (one line), or None when the browser may."""
    if os.environ.get(SWITCH, "").strip().lower() in ("0", "off", "false", "no"):
        return "off"
    if not runtime_installed() or not st.get_option("server.enableStaticServing"):
        return "Decoding on the server: the in-browser decoder's files are not installed (`make` fetches them with npm)."
    failed = st.session_state.get(FAILED)
    if failed:
        return f"Decoding on the server: this browser could not run the decoder ({failed})."
    return None


@st.cache_resource(show_spinner="Preparing the decoder for your browser…", max_entries=32)
def _served(path: str, mtime: float, _model) -> ServedDecoder:
    decoder = decoder_for_run(Path(path), _model)
    token = hmac.new(_SECRET, decoder.weights_sha256.encode(), hashlib.sha256).hexdigest()[:40]
    target = DECODERS_DIR / f"{token}.onnx"
    if not target.is_file():
        write_bytes_atomic(target, decoder.data)
        _prune(DECODERS_DIR, KEEP_DECODERS)
    return ServedDecoder(f"app/static/decoders/{token}.onnx", decoder.latent_dim, decoder.image_shape)


def _prune(folder: Path, keep: int) -> None:
    files = sorted(folder.glob("*.onnx"), key=lambda file: file.stat().st_mtime, reverse=True)
    for old in files[keep:]:
        old.unlink(missing_ok=True)


def served_decoder(run) -> ServedDecoder | str:
    """The address of ``run``'s decoder for the browser, or one line saying why there is none."""
    from ui.explore_widgets import run_key

    try:
        return _served(*run_key(run), run.model)
    except (GenCoreError, OSError) as error:
        from ui.boundary import public_message

        return f"Decoding on the server: {public_message(error) if isinstance(error, GenCoreError) else 'the decoder could not be prepared.'}"


_COMPONENT = None


def _component():
    global _COMPONENT
    if _COMPONENT is None:
        here = Path(__file__).parent
        _COMPONENT = st.components.v2.component(
            "latent_lab_browser_decoder", html='<div class="decoder"></div>',
            css=(here / "browser_decoder.css").read_text(), js=(here / "browser_decoder.js").read_text())
    return _COMPONENT


def _on_change(key: str, count: int, on_release) -> None:
    """The component's report, before the rerun: a failure to remember, or released values to keep."""
    state = st.session_state.get(key) or {}
    reason = state.get("failed")
    if reason:
        st.session_state[FAILED] = " ".join(str(reason).split())[:120]
        return
    released = state.get("values")
    if isinstance(released, list) and len(released) == count:
        try:
            values = [float(value) for value in released]
        except (TypeError, ValueError):
            return  # not numbers: nothing a slider of ours sent
        if all(abs(value) < 1e6 for value in values):  # finite and in any range we draw
            on_release(values)


def live_decoder(runs, *, key: str, codes: list[dict], controls: dict, values, width_px: int, on_release,
                 labels: list[str] | None = None, before=None) -> bool:
    """Mount the component for ``runs`` (one or two side by side, drawn in the same frame).

    ``codes``: for each run, how the controls' values make its code: ``{"origin": [...],
    "directions": [[...], ...]}`` (affine: ``affine_frame``), or ``{"path": "slerp", "ends": [a, b]}``
    for a great-circle mix whose one control is the percent from a to b.

    ``controls``: ``{"kind": "sliders", "labels": [...], "ranges": [[lo, hi], ...], "steps": [...]}``
    or ``{"kind": "pad", "ranges": [[x0, x1], [y0, y1]], "points": [[x, y, class], ...],
    "colors": [...]}``; ``values`` are where they stand now (the page's session state), and
    ``on_release(values)`` is called before the rerun that follows a release, to store them there.
    Returns False after saying in one line why the page must decode on the server instead.
    """
    reason = unavailable_reason()
    served = [served_decoder(run) for run in runs] if reason is None else []
    reason = reason or next((each for each in served if isinstance(each, str)), None)
    if reason is not None:
        if reason != "off":
            st.caption(reason)
        return False
    if before is not None:
        before()
    data = {
        "assets": "app/static/onnxruntime-web/",
        "models": [{"url": each.url, "label": label, "shape": list(each.image_shape), **code}
                   for each, label, code in zip(served, labels or [""] * len(runs), codes)],
        "controls": controls, "values": [float(v) for v in values], "width": int(width_px),
    }
    def changed() -> None:
        _on_change(key, len(values), on_release)

    _component()(key=key, data=data, default={"values": None, "failed": None},
                 on_values_change=changed, on_failed_change=changed)
    return True


def affine_frame(latent_at, count: int, dims: int):
    """``origin`` and ``directions`` such that ``latent_at(c) == origin + sum_i c_i * directions[i]``
    for a map from ``count`` controls to a code that is affine (slider axes, lerp mixes, PCA planes)."""
    import numpy as np

    origin = np.asarray(latent_at([0.0] * count), dtype=np.float64).reshape(dims)
    directions = []
    for index in range(count):
        unit = [0.0] * count
        unit[index] = 1.0
        directions.append(np.asarray(latent_at(unit), dtype=np.float64).reshape(dims) - origin)
    return origin.tolist(), [row.tolist() for row in directions]


def live_sliders(runs, axes, start, coords, width_px: int, on_release, buttons=None, key: str = "sliders_live") -> bool:
    """The Latent sliders page's sliders and pictures, decoded in the browser (see ``live_decoder``);
    ``buttons()`` draws the page's own buttons above them when the browser decodes."""
    origin, directions = affine_frame(lambda values: axes.latent_at(values, start), len(axes), runs[0].model.latent_dim)
    controls = {"kind": "sliders", "labels": list(axes.labels), "ranges": [list(r) for r in axes.ranges],
                "steps": [(high - low) / 200 for low, high in axes.ranges]}
    labels = [each.name for each in runs] if len(runs) > 1 else ["Decoded image"]
    code = {"origin": origin, "directions": directions}
    return live_decoder(runs, key=key, before=buttons, codes=[code] * len(runs), controls=controls, values=coords,
                        width_px=width_px, on_release=on_release, labels=labels)


def live_mix(models_and_codes, runs, method: str, percent: int, width_px: int, on_release,
             key: str = "interp_mix_live") -> bool:
    """Interpolate's mix slider, decoded in the browser: each run mixes its own two codes."""
    codes = []
    for _title, _model, start, end in models_and_codes:
        ends = [[float(v) for v in start.reshape(-1).tolist()], [float(v) for v in end.reshape(-1).tolist()]]
        if method == "slerp":
            codes.append({"path": "slerp", "ends": ends})
        else:  # (1 - t) a + t b with t = percent / 100
            codes.append({"origin": ends[0], "directions": [[(b - a) / 100 for a, b in zip(*ends)]]})
    controls = {"kind": "sliders", "labels": ["Mix %"], "ranges": [[0, 100]], "steps": [1]}
    labels = [title or "Mix" for title, *_ in models_and_codes]
    return live_decoder(runs, key=key, codes=codes, controls=controls, values=[percent], width_px=width_px,
                        on_release=on_release, labels=labels)


MAP_POINTS = 1500  # test codes drawn on the pad: enough to see the clusters, light to send


def live_map(run, latent_map, colors: list[str], width_px: int, on_release, before=None,
             key: str = "latent_map_live") -> bool:
    """The plane of the first two principal directions of the test codes (for a 2-d latent, the whole
    space) as a pad: the code under the pointer is decoded live beside it; a click calls
    ``on_release([x, y])`` with the map coordinates clicked."""
    pca = LatentPCA().fit(latent_map.latents)
    dims = latent_map.latent_dim
    origin, directions = affine_frame(lambda values: latent_from_pca_coords(pca, [values])[0].numpy(), 2, dims)
    coords = np.asarray(latent_map.coords, dtype=np.float64)
    low, high = coords.min(axis=0), coords.max(axis=0)
    margin = np.maximum((high - low) * 0.08, 1e-3)
    ranges = [[float(low[i] - margin[i]), float(high[i] + margin[i])] for i in range(2)]
    step = max(1, len(coords) // MAP_POINTS)
    labels = latent_map.labels if latent_map.labels is not None else np.zeros(len(coords), dtype=int)
    points = [[round(float(x), 4), round(float(y), 4), int(label)]
              for (x, y), label in zip(coords[::step], labels[::step])]
    controls = {"kind": "pad", "ranges": ranges, "points": points, "colors": colors, "size": 300}
    point_key = f"{key}_point"  # where the last click was: the pad's marker stays there

    def clicked(values) -> None:
        st.session_state[point_key] = values
        on_release(values)

    start = st.session_state.get(point_key) or [float(coords[:, 0].mean()), float(coords[:, 1].mean())]
    return live_decoder([run], key=key, codes=[{"origin": origin, "directions": directions}], controls=controls,
                        values=start, width_px=width_px, on_release=clicked, labels=["Under the pointer"],
                        before=before)
