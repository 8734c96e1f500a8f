// The big WebGL map (views/_gl_map.py): one plotly graph per component instance, updated in
// place with Plotly.react on every rerun. st.plotly_chart mounts a new graph whenever its
// figure changes, and a new graph costs WebGL contexts, shaders and a full redraw; here a
// rerun that changes only the highlighted points redraws only what changed.
//
// Two elements of this component make one map:
//   the base, data {role: "base", base_key: content key, base: JSON of the base traces},
//   which stays the same while only the overlay changes, so Streamlit sends the browser a
//   reference to it instead of its megabytes on such a rerun; it draws nothing;
//   the map, data {role: "map", base_key, plotly: URL of plotly.min.js, overlay: JSON of
//   the traces drawn on top, layout: JSON, config: JSON}, which draws the graph.
// state sent back by the map: selection = {base: base_key, points: [[trace, index], ...]}
// (no points on deselect); Python ignores a selection made on other base traces.

const graphs = new WeakMap(); // parentElement -> {gd, baseKey, setState, events, calls}
const bases = new Map(); // base_key -> decoded base traces, the last BASES_KEPT
const BASES_KEPT = 4;
const waiting = new Map(); // base_key -> resolvers of maps drawn before their base arrived
let loading = null;

function loadPlotly(url) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => {
        loading = null;
        reject(new Error(`plotly.js did not load from ${url}`));
      };
      document.head.appendChild(script);
    });
  }
  return loading;
}

const TYPED = {
  f4: Float32Array, f8: Float64Array, i1: Int8Array, u1: Uint8Array,
  i2: Int16Array, u2: Uint16Array, i4: Int32Array, u4: Uint32Array,
};

// plotly.py sends numpy arrays as {dtype, bdata}; decode them once so that a base trace keeps
// the same arrays across reruns and Plotly.react sees them unchanged.
function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value === null || typeof value !== "object") return value;
  if (typeof value.bdata === "string" && TYPED[value.dtype] && !value.shape) {
    const bytes = Uint8Array.from(atob(value.bdata), (c) => c.charCodeAt(0));
    return new TYPED[value.dtype](bytes.buffer);
  }
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = decode(v);
  return out;
}

function keepBase(key, json) {
  if (!bases.has(key)) {
    bases.set(key, decode(JSON.parse(json)));
    while (bases.size > BASES_KEPT) bases.delete(bases.keys().next().value);
  }
  for (const resolve of waiting.get(key) || []) resolve(bases.get(key));
  waiting.delete(key);
}

function baseFor(key) {
  if (bases.has(key)) return Promise.resolve(bases.get(key));
  return new Promise((resolve) => waiting.set(key, [...(waiting.get(key) || []), resolve]));
}

function selection(base, event) {
  const points = (event && event.points) || [];
  return { base, points: points.map((p) => [p.curveNumber, p.pointIndex ?? p.pointNumber]) };
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  if (data.role === "base") {
    keepBase(data.base_key, data.base);
    // It shows nothing: out of the page's flow, it leaves no gap above the map.
    const container = parentElement.closest('[data-testid="stElementContainer"]');
    if (container) container.style.display = "none";
    return undefined;
  }
  let entry = graphs.get(parentElement);
  if (!entry) {
    const gd = document.createElement("div");
    gd.className = "explorer-gl-map";
    parentElement.appendChild(gd);
    entry = { gd, baseKey: null, setState: setStateValue, events: false, calls: 0 };
    graphs.set(parentElement, entry);
  }
  entry.setState = setStateValue;
  const overlay = decode(JSON.parse(data.overlay));
  const layout = JSON.parse(data.layout);
  const config = JSON.parse(data.config);
  entry.gd.style.height = `${layout.height}px`;
  // A newer update may overtake this one while it waits for its base: only the newest draws.
  const call = ++entry.calls;
  Promise.all([loadPlotly(data.plotly), baseFor(data.base_key)])
    .then(([Plotly, base]) => {
      if (call !== entry.calls) return null;
      entry.baseKey = data.base_key;
      return Plotly.react(entry.gd, [...base, ...overlay], layout, config);
    })
    .then((gd) => {
      if (!gd) return;
      gd.dataset.baseKey = entry.baseKey;
      // When the frame after this update was produced (for tests and benchmarks).
      requestAnimationFrame(() =>
        requestAnimationFrame(() => {
          gd.dataset.drawnAt = String(performance.now());
        }),
      );
      if (entry.events) return;
      entry.events = true;
      const send = (event) => entry.setState("selection", selection(entry.baseKey, event));
      gd.on("plotly_selected", send);
      gd.on("plotly_deselect", () => send(null));
    })
    .catch((error) => {
      entry.gd.textContent = String(error);
    });
  // Streamlit calls this when the element goes (another tab, another page), and also when an
  // update overtook this call: free the WebGL contexts only once the graph left the page.
  return () =>
    setTimeout(() => {
      if (parentElement.isConnected || graphs.get(parentElement) !== entry) return;
      graphs.delete(parentElement);
      if (window.Plotly) window.Plotly.purge(entry.gd);
    }, 0);
}
