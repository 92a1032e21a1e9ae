// Toolbar: layout, tool, preset, window/level readout, zoom, crosshair, overlay opacity.
// Every control writes a model trait; the viewer reacts to trait changes only, so
// the kernel and (later) remote collaborators drive the view the same way.

const LAYOUT_LABELS = {
  mpr: "MPR", mpr3d: "MPR + 3D", axial: "Axial", coronal: "Coronal", sagittal: "Sagittal", "3d": "3D",
};
const TOOL_LABELS = {
  crosshair: ["✛", "Crosshair: click/drag; wheel: slices; right-drag or shift-drag: window/level"],
  window: ["W/L", "Window/level: drag right = wider window, drag up = brighter (shift-drag too)"],
  pan: ["Pan", "Pan by dragging; wheel: zoom"],
  measure: ["Dist", "Distance in mm: drag from one point to another"],
  point: ["Pt", "Point annotation: click to place, then type a note"],
};

function select(options, value, onChange, cls) {
  const s = document.createElement("select");
  s.className = cls;
  for (const [v, label] of Object.entries(options)) {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = label;
    s.appendChild(o);
  }
  s.value = value;
  s.addEventListener("change", () => onChange(s.value));
  return s;
}

function button(text, title, onClick, cls = "cjv-btn") {
  const b = document.createElement("button");
  b.className = cls;
  b.textContent = text;
  b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

export function buildToolbar(model, presetLabels, { onZoom }) {
  const bar = document.createElement("div");
  bar.className = "cjv-toolbar";
  const set = (k, v) => {
    model.set(k, v);
    model.save_changes();
  };
  const layout = select(LAYOUT_LABELS, model.get("view_layout"), (v) => set("view_layout", v), "cjv-layout");
  const tools = document.createElement("span");
  tools.className = "cjv-tools";
  const toolButtons = {};
  for (const [name, [icon, title]] of Object.entries(TOOL_LABELS)) {
    toolButtons[name] = button(icon, title, () => set("tool", name), "cjv-btn cjv-tool");
    toolButtons[name].dataset.tool = name;
    tools.appendChild(toolButtons[name]);
  }
  const preset = select(presetLabels, model.get("preset"), (v) => set("preset", v), "cjv-preset");
  const wl = document.createElement("span");
  wl.className = "cjv-wl";
  const zoom = document.createElement("span");
  zoom.append(
    button("−", "Zoom out", () => onZoom(1 / 1.25)),
    button("+", "Zoom in", () => onZoom(1.25)),
    button("1:1", "Reset zoom and pan", () => onZoom(0)),
  );
  const cross = document.createElement("label");
  cross.className = "cjv-check";
  const crossBox = document.createElement("input");
  crossBox.type = "checkbox";
  crossBox.addEventListener("change", () => set("crosshair", crossBox.checked));
  cross.append(crossBox, " crosshair");
  const opacity = document.createElement("input");
  opacity.type = "range";
  opacity.min = "0";
  opacity.max = "1";
  opacity.step = "0.05";
  opacity.title = "Label overlay opacity";
  opacity.className = "cjv-opacity";
  opacity.addEventListener("input", () => set("overlay_opacity", parseFloat(opacity.value)));
  const opacityBox = document.createElement("label");
  opacityBox.className = "cjv-check cjv-opacity-box";
  opacityBox.append("labels ", opacity);

  function sync() {
    layout.value = model.get("view_layout");
    preset.value = model.get("preset");
    for (const [name, b] of Object.entries(toolButtons)) {
      b.classList.toggle("cjv-active", name === model.get("tool"));
    }
    wl.textContent = model.get("window") > 0
      ? `W ${Math.round(model.get("window"))} / L ${Math.round(model.get("level"))}` : "W – / L –";
    crossBox.checked = model.get("crosshair");
    opacity.value = String(model.get("overlay_opacity"));
    opacityBox.style.display = model.get("overlay_url") || model.get("overlay_volume_id") ? "" : "none";
  }
  const keys = ["view_layout", "preset", "tool", "window", "level", "crosshair", "overlay_opacity"];
  for (const k of keys) model.on(`change:${k}`, sync);
  sync();
  bar.append(layout, tools, preset, wl, zoom, cross, opacityBox);
  bar.dispose = () => keys.forEach((k) => model.off(`change:${k}`, sync));
  return bar;
}
