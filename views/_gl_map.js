// The big WebGL map (views/_gl_map.py): one plotly graph per component instance, updated in
// place with Plotly.react on every rerun. st.plotly_chart mounts a new graph whenever its
// figure changes, and a new graph costs WebGL contexts, shaders and a full redraw; here a
// rerun that changes only the highlighted points redraws only what changed.
//
// data: {plotly: URL of plotly.min.js, base_key: content key of the base traces,
//        base: JSON of the base traces, overlay: JSON of the traces drawn on top,
//        layout: JSON, config: JSON}
// state sent back: selection = {base: base_key, points: [[trace, index], ...]} (no points on
// deselect); Python ignores a selection made on other base traces.

const graphs = new WeakMap(); // parentElement -> {gd, baseKey, base, setState}
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

function selection(base, event) {
  const points = (event && event.points) || [];
  return { base, points: points.map((p) => [p.curveNumber, p.pointIndex ?? p.pointNumber]) };
}

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let entry = graphs.get(parentElement);
  if (!entry) {
    const gd = document.createElement("div");
    gd.className = "explorer-gl-map";
    parentElement.appendChild(gd);
    entry = { gd, baseKey: null, base: [], setState: setStateValue, events: false };
    graphs.set(parentElement, entry);
  }
  entry.setState = setStateValue;
  if (entry.baseKey !== data.base_key) {
    entry.base = decode(JSON.parse(data.base));
    entry.baseKey = data.base_key;
  }
  const overlay = decode(JSON.parse(data.overlay));
  const layout = JSON.parse(data.layout);
  const config = JSON.parse(data.config);
  entry.gd.style.height = `${layout.height}px`;
  loadPlotly(data.plotly)
    .then((Plotly) => Plotly.react(entry.gd, [...entry.base, ...overlay], layout, config))
    .then((gd) => {
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
