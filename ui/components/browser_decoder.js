// The in-browser decoder (ui/components/browser_decoder.py says how the pieces meet).
// Every input event asks for a frame; frames never queue up: while one decodes, only the newest
// request waits, so the picture follows the hand at whatever rate this machine decodes.
const RUNTIME_FILE = "ort.wasm.bundle.min.mjs";
const KEEP_LATENCIES = 2000;
let runtime = null; // one onnxruntime-web for the whole page
const sessions = new Map(); // decoder address -> Promise of its InferenceSession
const views = new WeakMap(); // the component's element -> its view

function absolute(path) {
  return new URL(path, window.location.href).href;
}

function loadRuntime(assets) {
  if (!runtime) {
    runtime = (async () => {
      if (typeof WebAssembly !== "object" || typeof WebAssembly.instantiate !== "function") {
        throw new Error("no WebAssembly");
      }
      const base = absolute(assets);
      const ort = await import(base + RUNTIME_FILE);
      ort.env.wasm.numThreads = 1; // one small decode per frame: worker threads only add hand-offs
      ort.env.wasm.wasmPaths = { mjs: base + "ort-wasm-simd-threaded.mjs", wasm: base + "ort-wasm-simd-threaded.wasm" };
      return ort;
    })();
  }
  return runtime;
}

function loadSession(ort, url) {
  if (!sessions.has(url)) {
    sessions.set(url, ort.InferenceSession.create(absolute(url), { executionProviders: ["wasm"] }));
  }
  return sessions.get(url);
}

// A model's code for the controls' values: origin + sum_i values_i * directions_i, or for a
// "slerp" mix the great-circle point values_0 percent of the way from ends[0] to ends[1]
// (gen_core/latent/paths.py, computed in double precision as there).
function codeAt(model, values) {
  if (model.path === "slerp") return slerpAt(model.ends[0], model.ends[1], values[0] / 100);
  const { origin, directions } = model;
  const code = new Float32Array(origin.length);
  for (let d = 0; d < origin.length; d++) {
    let sum = origin[d];
    for (let i = 0; i < values.length; i++) sum += values[i] * directions[i][d];
    code[d] = sum;
  }
  return code;
}

function slerpAt(start, end, fraction) {
  const dot = start.reduce((sum, v, d) => sum + v * end[d], 0);
  const norms = Math.hypot(...start) * Math.hypot(...end);
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.max(norms, 1e-12))));
  const code = new Float32Array(start.length);
  if (Math.abs(Math.sin(omega)) < 1e-4) {
    start.forEach((v, d) => { code[d] = (1 - fraction) * v + fraction * end[d]; });
  } else {
    const a = Math.sin((1 - fraction) * omega) / Math.sin(omega), b = Math.sin(fraction * omega) / Math.sin(omega);
    start.forEach((v, d) => { code[d] = a * v + b * end[d]; });
  }
  return code;
}

function draw(canvas, pixels, shape) {
  const [channels, height, width] = shape;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  const plane = height * width;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      const value = pixels[(channels === 3 ? c : 0) * plane + p];
      image.data[4 * p + c] = Math.round(Math.min(1, Math.max(0, value || 0)) * 255);
    }
    image.data[4 * p + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

function buildSliders(view, controls) {
  const box = document.createElement("div");
  box.className = "sliders";
  view.inputs = controls.labels.map((label, i) => {
    const row = document.createElement("label");
    row.className = "slider";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = label;
    const readout = document.createElement("span");
    readout.className = "readout";
    const input = document.createElement("input");
    input.type = "range";
    [input.min, input.max] = controls.ranges[i];
    input.step = controls.steps[i];
    input.setAttribute("aria-label", label);
    input.addEventListener("input", (event) => {
      readout.textContent = Number(input.value).toFixed(2);
      view.values[i] = Number(input.value);
      view.request(event.timeStamp);
    });
    input.addEventListener("change", () => view.release());
    input.readout = readout;
    row.append(name, input, readout);
    box.append(row);
    return input;
  });
  view.showValues = () => view.inputs.forEach((input, i) => {
    input.value = view.values[i];
    input.readout.textContent = Number(view.values[i]).toFixed(2);
  });
  return box;
}

function buildPad(view, controls) {
  const size = controls.size || 260;
  const pad = document.createElement("canvas");
  pad.className = "pad";
  pad.width = pad.height = size;
  const [[x0, x1], [y0, y1]] = controls.ranges;
  const toPixel = (x, y) => [((x - x0) / (x1 - x0)) * size, (1 - (y - y0) / (y1 - y0)) * size];
  const paint = () => {
    const context = pad.getContext("2d");
    context.fillStyle = "#fff";
    context.fillRect(0, 0, size, size);
    for (const [x, y, label] of controls.points || []) {
      const [px, py] = toPixel(x, y);
      context.fillStyle = (controls.colors || [])[label] || "#888";
      context.fillRect(px - 1.5, py - 1.5, 3, 3);
    }
    const [mx, my] = toPixel(view.values[0], view.values[1]);
    context.strokeStyle = "#000";
    context.lineWidth = 2;
    context.beginPath();
    context.arc(mx, my, 6, 0, 2 * Math.PI);
    context.stroke();
  };
  const valuesAt = (event) => {
    const rect = pad.getBoundingClientRect();
    const fx = Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
    const fy = Math.min(1, Math.max(0, (event.clientY - rect.top) / rect.height));
    return [x0 + fx * (x1 - x0), y0 + (1 - fy) * (y1 - y0)];
  };
  pad.addEventListener("pointermove", (event) => {
    view.values = valuesAt(event);
    paint();
    view.request(event.timeStamp);
  });
  pad.addEventListener("pointerdown", (event) => {
    view.values = valuesAt(event);
    paint();
    view.request(event.timeStamp);
    view.release();
  });
  view.showValues = paint;
  return pad;
}

function buildView(root, data, setStateValue) {
  const view = { data, values: [...data.values], known: JSON.stringify(data.values), frames: 0,
                 latencies: [], busy: false, pending: null };
  root.replaceChildren();
  const controls = data.controls.kind === "pad" ? buildPad(view, data.controls) : buildSliders(view, data.controls);
  const frames = document.createElement("div");
  frames.className = "frames";
  view.canvases = data.models.map((model) => {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    [, canvas.height, canvas.width] = model.shape;
    canvas.style.width = `${data.width}px`;
    canvas.className = "frame";
    const caption = document.createElement("figcaption");
    caption.textContent = model.label;
    figure.append(canvas, caption);
    frames.append(figure);
    return canvas;
  });
  const status = document.createElement("div");
  status.className = "status";
  status.textContent = "Loading the decoder into this browser…";
  root.append(controls, frames, status);
  view.status = status;

  view.release = () => {
    view.known = JSON.stringify(view.values);
    setStateValue("values", [...view.values]);
  };
  // Ask for a frame of the current values; the input event's time is kept for the latency record.
  view.request = (since) => {
    view.pending = view.pending ?? since ?? performance.now();
    if (!view.busy && view.ready) view.decode();
  };
  view.decode = async () => {
    view.busy = true;
    while (view.pending !== null) {
      const since = view.pending;
      view.pending = null;
      const { models } = view.data;
      const values = [...view.values];
      const codes = models.map((model) => codeAt(model, values));
      try {
        // Every model decodes its code for the same values, and all are drawn in the same frame.
        const outputs = await Promise.all(view.sessions.map((session, i) =>
          session.run({ z: new view.ort.Tensor("float32", codes[i], [1, codes[i].length]) })));
        outputs.forEach((output, i) => draw(view.canvases[i], output.image.data, models[i].shape));
      } catch (error) {
        view.fail(`decoding failed: ${error.message || error}`);
        break;
      }
      view.frames += 1;
      view.latencies.push(performance.now() - since);
      if (view.latencies.length > KEEP_LATENCIES) view.latencies.shift();
      root.dataset.frames = String(view.frames);
      root.dataset.values = JSON.stringify(values);
      root.dataset.code = JSON.stringify(Array.from(codes[0]));
    }
    view.busy = false;
  };
  view.fail = (reason) => {
    status.textContent = `This browser could not run the decoder (${reason}); decoding on the server instead.`;
    setStateValue("failed", reason);
  };
  view.showValues();
  return view;
}

async function start(view, data) {
  try {
    view.ort = await loadRuntime(data.assets);
    view.sessions = await Promise.all(data.models.map((model) => loadSession(view.ort, model.url)));
  } catch (error) {
    view.fail(String(error.message || error).slice(0, 100));
    return;
  }
  view.ready = true;
  view.status.textContent = "";
  view.request(performance.now());
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const root = parentElement.querySelector(".decoder");
  let view = views.get(root);
  const layout = JSON.stringify([data.models.map((model) => [model.url, model.shape, model.label]), data.controls,
                                 data.width]);
  if (!view || view.layout !== layout) {
    view = buildView(root, data, setStateValue);
    view.layout = layout;
    views.set(root, view);
    root.browserDecoder = view; // for the tests and the benchmark: frames, latencies
    start(view, data);
    return;
  }
  // Same models and controls: new positions from Python (reset, randomise, a link) move the controls;
  // the positions this view reported itself come back unchanged and are left alone.
  view.data = data;
  const values = JSON.stringify(data.values);
  if (values !== view.known) {
    view.known = values;
    view.values = [...data.values];
    view.showValues();
  }
  view.request(performance.now());
}
