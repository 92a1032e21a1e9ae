// anywidget entry point: the chris_jupyter volume viewer (niivue, bundled).
//
// Widget state carries only small things (positions, window/level, annotations,
// peers); the pixels are fetched once, in binary, from a same-origin URL.
import { DRAG_MODE, NVImage, Niivue, SHOW_RENDER, SLICE_TYPE } from "@niivue/niivue";
import { fetchVolume, niftiName, volumeHeaders, volumeUrl } from "./fetchvol.js";
import { joinCollab } from "./collab.js";
import { ijkToMm, mmToIjk, mmToScreen } from "./geometry.js";
import { labelColormap, labelCounts } from "./labels.js";
import { renderLegend } from "./legend.js";
import { LEAN_SLICE_SHADER } from "./leanshader.js";
import { Overlay2D } from "./overlay2d.js";
import { infoCorner, probeAt, probeText, sourceLine, tileRects } from "./info.js";
import { AnnotationEditor } from "./annotations.js";
import { close, round } from "./util.js";
import { renderPanel } from "./panel.js";
import { PRESET_LABELS, autoWindow, presetWindow } from "./presets.js";
import { startPreview } from "./preview.js";
import { buildToolbar } from "./toolbar.js";
import "./style.css";

// When this module was evaluated (after the browser parsed the bundle): the benchmark's breakdown.
const MODULE_EVALUATED = performance.now();

const LAYOUTS = {
  axial: [SLICE_TYPE.AXIAL, SHOW_RENDER.NEVER],
  coronal: [SLICE_TYPE.CORONAL, SHOW_RENDER.NEVER],
  sagittal: [SLICE_TYPE.SAGITTAL, SHOW_RENDER.NEVER],
  mpr: [SLICE_TYPE.MULTIPLANAR, SHOW_RENDER.NEVER],
  mpr3d: [SLICE_TYPE.MULTIPLANAR, SHOW_RENDER.ALWAYS],
  "3d": [SLICE_TYPE.RENDER, SHOW_RENDER.ALWAYS],
};

const D = DRAG_MODE;
// Window/level drags are ours (see wlDrag below), not niivue's: "WL" marks them.
const WL = "wl";
const TOOLS = {
  crosshair: [D.crosshair, WL],
  window: [WL, D.crosshair],
  pan: [D.pan, D.pan],
  measure: [D.measurement, WL],
  point: [D.crosshair, WL],
};
const niivueMode = (m) => (m === WL ? D.none : m);

function render({ model, el, bundle }) {
  // Live collaboration on backend volumes (collab.js): one bridge per model, not per view.
  // Joined first, so a local edit is sent before this view spends a frame redrawing it.
  const leaveCollab = joinCollab(model);
  const root = document.createElement("div");
  root.className = "cjv-root";
  el.appendChild(root);
  const stage = document.createElement("div");
  stage.className = "cjv-stage";
  stage.style.height = `${model.get("height")}px`;
  const canvas = document.createElement("canvas");
  canvas.className = "cjv-canvas";
  stage.appendChild(canvas);
  // Right-drag is window/level: the page's (JupyterLab's) context menu must not open over it.
  stage.addEventListener("contextmenu", (e) => {
    e.preventDefault();
    e.stopPropagation();
  });
  // Keyboard: the stage takes focus (a visible ring) and keeps its keys from JupyterLab.
  stage.tabIndex = 0;
  stage.dataset.lmSuppressShortcuts = "true";
  const infoBox = document.createElement("div");
  infoBox.className = "cjv-info";
  const errorBox = document.createElement("div");
  errorBox.className = "cjv-error";
  errorBox.hidden = true;
  const side = document.createElement("div");
  side.className = "cjv-side";
  const list = document.createElement("div");
  list.className = "cjv-list";
  const status = document.createElement("div");
  status.className = "cjv-status";
  const legend = document.createElement("div");
  legend.className = "cjv-legend";
  legend.hidden = true;
  side.append(legend, list, status);
  const body = document.createElement("div");
  body.className = "cjv-body";
  body.append(stage, side);

  const nv = new Niivue({
    backColor: [0, 0, 0, 1],
    crosshairColor: [1, 0.2, 0.2, 1],
    show3Dcrosshair: true,
    isResizeCanvas: true,
    dragAndDropEnabled: false,
    logLevel: "error",
    loadingText: "",
    isOrientationTextVisible: false, // ours: on all four edges (info.js)
    multiplanarLayout: 0, // AUTO: row, column or grid, whichever fills the canvas best
  });
  const overlay = new Overlay2D(stage, canvas);
  overlay.showInfo = !!model.get("show_info");
  stage.append(infoBox, errorBox); // above the canvases
  const annotations = new AnnotationEditor(model, {
    refresh: () => applyAnnotations(),
    goTo: (mm) => setPosition(mm),
  });
  let disposed = false;
  const abort = new AbortController();
  const timing = {
    module: bundle ? bundle.ready : MODULE_EVALUATED, start: performance.now(), attached: NaN, preview: NaN, fetched: NaN, parsed: NaN,
    loaded: NaN, firstSlice: NaN,
  };

  // Draw our annotations after every niivue frame.
  const drawScene = nv.drawScene.bind(nv);
  nv.drawScene = (...args) => {
    const r = drawScene(...args);
    overlay.draw(nv);
    placeInfo();
    return r;
  };
  // The information box goes to the canvas corner that hides the least of the tiles; it is
  // measured and moved only when the tiles or its text change (never while scrolling).
  let infoPlace = "";
  function placeInfo() {
    if (infoBox.hidden) return;
    const dpr = canvas.width / Math.max(1, canvas.clientWidth || canvas.width);
    const tiles = tileRects(nv, dpr);
    const key = `${JSON.stringify(tiles)}|${infoBox.textContent.length}|${canvas.clientWidth}x${canvas.clientHeight}`;
    if (key === infoPlace) return;
    infoPlace = key;
    const corner = infoCorner(tiles, canvas.clientWidth, canvas.clientHeight, infoBox.offsetWidth, infoBox.offsetHeight);
    if (infoBox.dataset.corner === corner) return;
    infoBox.dataset.corner = corner;
    const st = infoBox.style;
    st.top = corner[0] === "t" ? "4px" : "auto";
    st.bottom = corner[0] === "b" ? "4px" : "auto";
    st.right = corner[1] === "r" ? "6px" : "auto";
    st.left = corner[1] === "l" ? "6px" : "auto";
    st.textAlign = corner[1] === "r" ? "right" : "left";
  }

  const toolbar = buildToolbar(model, PRESET_LABELS, {
    onZoom: (f) => setZoom(f === 0 ? 1 : nv.scene.pan2Dxyzmm[3] * f),
  });
  root.append(toolbar, body);

  const setStatus = (s) => {
    status.textContent = s;
    errorBox.hidden = !s.startsWith("error");
    errorBox.textContent = s.startsWith("error") ? s.replace(/^error: /, "") : "";
    model.set("status", s);
    model.save_changes();
  };
  const base = () => nv.volumes[0];
  const worldMm = () => Array.from(nv.frac2mm(nv.scene.crosshairPos, 0, true)).slice(0, 3).map((v) => round(v));

  // ---- model -> view -------------------------------------------------------------------
  // Window/level: only the base layer is re-coloured, at most once per frame.
  let windowPending = false;
  function windowFromModel(vol) {
    const w = model.get("window");
    const l = model.get("level");
    if (!(w > 0)) return false;
    if (vol.cal_min === l - w / 2 && vol.cal_max === l + w / 2) return false;
    vol.cal_min = l - w / 2;
    vol.cal_max = l + w / 2;
    return true;
  }
  function applyWindow() {
    if (windowPending) return;
    windowPending = true;
    requestAnimationFrame(() => {
      windowPending = false;
      const vol = base();
      if (!vol || disposed || !windowFromModel(vol)) return;
      nv.refreshLayers(vol, 0);
      nv.drawScene();
    });
  }
  function presetToModel(vol) {
    const name = model.get("preset");
    const wl = name ? presetWindow(name, vol) : null;
    if (!wl) return;
    model.set("window", round(wl[0], 3));
    model.set("level", round(wl[1], 3));
    model.save_changes();
  }
  function applyPreset() {
    presetToModel(base());
    applyWindow();
  }
  function applyLayout() {
    const [st, showRender] = LAYOUTS[model.get("view_layout")] || LAYOUTS.mpr;
    nv.opts.multiplanarShowRender = showRender;
    // The 3-D lighting gradient is only computed while a 3-D tile is shown (see build.mjs).
    const needGradient = showRender === SHOW_RENDER.ALWAYS;
    if (needGradient && nv.chrisSkipGradient && base()) {
      nv.chrisSkipGradient = false;
      nv.gradientGL(base().hdr);
    }
    nv.chrisSkipGradient = !needGradient;
    nv.setSliceType(st);
  }
  function applyTool() {
    const [left, right] = (TOOLS[model.get("tool")] || TOOLS.crosshair).map(niivueMode);
    nv.opts.dragMode = right;
    nv.setMouseEventConfig({
      leftButton: { primary: left, withShift: D.none, withCtrl: D.pan }, // shift-drag: W/L (ours)
      rightButton: right,
      centerButton: D.pan,
    });
  }
  function applyInterpolation() {
    nv.setInterpolation(model.get("interpolation") === "nearest");
  }
  function applyCrosshair() {
    nv.opts.crosshairWidth = model.get("crosshair") ? 1 : 0;
    nv.opts.isRadiologicalConvention = model.get("radiological");
    nv.drawScene();
  }
  function setPosition(mm, push = true) {
    if (!base() || !mm || mm.length !== 3) return;
    if (!close(worldMm(), mm, 1e-3)) {
      nv.scene.crosshairPos = nv.mm2frac(mm, 0, true);
      nv.drawScene();
    }
    if (push) pushLocation();
  }
  function applyIjk() {
    const ijk = model.get("ijk");
    if (!base() || !ijk || ijk.length !== 3) return;
    const cur = mmToIjk(base(), worldMm()).map(Math.round);
    if (close(cur, ijk, 0)) return;
    setPosition(ijkToMm(base(), ijk));
  }
  function setZoom(z) {
    const p = nv.scene.pan2Dxyzmm;
    nv.setPan2Dxyzmm([z === 1 ? 0 : p[0], z === 1 ? 0 : p[1], z === 1 ? 0 : p[2], z]);
    if (model.get("zoom") !== round(z, 3)) {
      model.set("zoom", round(z, 3));
      model.save_changes();
    }
  }
  let counts = null; // label value -> voxels, of the loaded overlay
  function styleOverlay(ov) {
    if (!counts) counts = labelCounts(ov);
    const max = Math.max(1, ...counts.keys());
    ov.global_max = Math.max(ov.global_max || 0, max);
    ov.setColormapLabel(labelColormap(ov.global_max, model.get("label_colors"), model.get("label_names"),
      model.get("hidden_labels")));
    ov.opacity = model.get("overlay_opacity");
    const pd = ov.hdr.pixDims;
    renderLegend(legend, counts, {
      colors: model.get("label_colors"),
      names: model.get("label_names"),
      hidden: model.get("hidden_labels"),
      mlPerVoxel: Math.abs(pd[1] * pd[2] * pd[3]) / 1000,
      onToggle: (value, visible) => {
        const rest = model.get("hidden_labels").filter((v) => v !== value);
        model.set("hidden_labels", visible ? rest : [...rest, value]);
        model.save_changes();
      },
    });
  }
  function applyOverlayStyle() {
    const ov = nv.volumes[1];
    if (!ov) return;
    styleOverlay(ov);
    nv.refreshLayers(ov, 1);
    nv.drawScene();
  }
  function applyAnnotations() {
    overlay.annotations = annotations.list();
    overlay.peers = model.get("peers") || [];
    overlay.selected = annotations.selected;
    renderPanel(list, overlay.annotations, annotations.selected, annotations.panelCallbacks);
    drawSoon();
  }
  // Annotation and peer changes (up to ~10/s per collaborator) redraw at most once per frame.
  let drawPending = false;
  function drawSoon() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => {
      drawPending = false;
      if (base() && !disposed) nv.drawScene();
    });
  }

  // ---- on-image information (info.js) ---------------------------------------------------
  let hover = null; // canvas device pixels of the pointer, while over the canvas
  let infoPending = false;
  function updateInfo() {
    if (infoPending) return;
    infoPending = true;
    requestAnimationFrame(() => {
      infoPending = false;
      const vol = base();
      const on = model.get("show_info") && vol && !disposed;
      infoBox.hidden = !on;
      if (overlay.showInfo !== !!model.get("show_info")) {
        overlay.showInfo = !!model.get("show_info");
        drawSoon();
      }
      if (!on) return;
      const { line, modality } = sourceLine(vol, model.get("volume_id") || "", model.get("source_url") || "");
      const probe = hover ? probeAt(nv, hover[0], hover[1]) : null;
      const lines = [];
      if (line) lines.push(line);
      lines.push(`W ${Math.round(model.get("window"))} / L ${Math.round(model.get("level"))}   zoom ${round(nv.scene.pan2Dxyzmm[3], 2)}×`);
      if (probe) lines.push(probeText(probe, modality));
      const text = lines.join("\n");
      if (infoBox.textContent !== text) infoBox.textContent = text; // no relayout while scrolling
      placeInfo();
    });
  }
  function toggleInfo() {
    model.set("show_info", !model.get("show_info"));
    model.save_changes();
  }
  canvas.addEventListener("pointermove", (e) => {
    if (e.buttons && !wlDrag) return; // a drag: the crosshair moves, the readout follows on release
    const r = canvas.getBoundingClientRect();
    const k = canvas.width / Math.max(1, r.width);
    hover = [(e.clientX - r.left) * k, (e.clientY - r.top) * k];
    updateInfo();
  });
  canvas.addEventListener("pointerleave", () => {
    hover = null;
    updateInfo();
  });

  // ---- keyboard ------------------------------------------------------------------------
  // Arrows / PageUp / PageDown step slices in the view under the pointer (else the first
  // one), Home / End jump to the first / last slice; 1-6 pick a layout; I toggles the info.
  const KEY_LAYOUTS = { 1: "mpr", 2: "axial", 3: "coronal", 4: "sagittal", 5: "mpr3d", 6: "3d" };
  function tileAxis() {
    const tiles = (nv.screenSlices || []).filter((t) => t.axCorSag <= 2 && t.leftTopWidthHeight);
    if (!tiles.length) return 2;
    const under = hover && tiles.find((t) => {
      let [l, tp, w, h] = t.leftTopWidthHeight;
      if (w < 0) [l, w] = [l + w, -w];
      return hover[0] >= l && hover[0] <= l + w && hover[1] >= tp && hover[1] <= tp + h;
    });
    return [2, 1, 0][(under || tiles[0]).axCorSag]; // axial steps z, coronal y, sagittal x
  }
  function stepSlices(n, axis) {
    const vox = [0, 0, 0];
    vox[axis] = n;
    nv.moveCrosshairInVox(...vox);
    updateInfo();
  }
  stage.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || !base()) return;
    const axis = tileAxis();
    const n = base().dimsRAS[axis + 1];
    const at = Math.floor(nv.scene.crosshairPos[axis] * n);
    const page = Math.max(1, Math.round(n / 10));
    const steps = {
      ArrowUp: 1, ArrowRight: 1, ArrowDown: -1, ArrowLeft: -1, PageUp: page, PageDown: -page,
      Home: -at, End: n - 1 - at,
    };
    if (e.key in steps) stepSlices(steps[e.key], axis);
    else if (e.key in KEY_LAYOUTS) {
      model.set("view_layout", KEY_LAYOUTS[e.key]);
      model.save_changes();
    } else if (e.key === "i" || e.key === "I") toggleInfo();
    else return;
    e.preventDefault();
    e.stopPropagation(); // not JupyterLab's (cell navigation, "1" = heading…)
  });
  // After JupyterLab's own mousedown handling, which focuses the notebook: take the focus back.
  const takeFocus = () => setTimeout(() => !disposed && stage.focus({ preventScroll: true }), 0);
  stage.addEventListener("pointerdown", takeFocus);
  stage.addEventListener("pointerup", takeFocus);

  // ---- view -> model -------------------------------------------------------------------
  // Crosshair -> kernel at most ~15 times a second (trailing edge kept): the view
  // itself moves at frame rate, the comm and the kernel need not.
  const LOCATION_SYNC_MS = 66;
  let locationPending = false;
  let lastLocationSync = 0;
  function pushLocation() {
    if (locationPending || disposed) return;
    locationPending = true;
    const wait = Math.max(0, LOCATION_SYNC_MS - (performance.now() - lastLocationSync));
    setTimeout(() => {
      locationPending = false;
      lastLocationSync = performance.now();
      if (!base() || disposed) return;
      const mm = worldMm();
      model.set("position_mm", mm);
      model.set("ijk", mmToIjk(base(), mm).map(Math.round));
      model.save_changes();
    }, wait);
  }
  // While the slice moves quickly (wheel, keys, a crosshair drag: two moves within FAST_GAP_MS),
  // frames are drawn with nearest sampling, which on software WebGL costs a fraction of the
  // trilinear kind; QUALITY_MS after the last move the chosen interpolation is back (one more draw).
  // A single click never switches.
  const FAST_GAP_MS = 100;
  const QUALITY_MS = 200;
  let lastMove = -Infinity;
  let qualityTimer = null;
  function moving() {
    const now = performance.now();
    const quick = now - lastMove < FAST_GAP_MS;
    lastMove = now;
    if (model.get("interpolation") === "nearest" || !base() || (!quick && !qualityTimer)) return;
    if (qualityTimer) clearTimeout(qualityTimer);
    else {
      nv.opts.isNearestInterpolation = true; // from the next frame, which the move draws itself
      for (let i = 0; i < nv.volumes.length; i++) nv.updateInterpolation(i);
    }
    qualityTimer = setTimeout(() => {
      qualityTimer = null;
      if (!disposed) nv.setInterpolation(model.get("interpolation") === "nearest"); // redraws
    }, QUALITY_MS);
  }
  nv.onLocationChange = () => {
    moving();
    pushLocation();
    updateInfo();
  };
  // niivue's own hotkey (V) cycles the layout: keep the trait in step.
  nv.onSliceTypeChange = (st) => {
    const render = nv.opts.multiplanarShowRender === SHOW_RENDER.ALWAYS;
    const name = Object.keys(LAYOUTS).find(
      (k) => LAYOUTS[k][0] === st && (st !== SLICE_TYPE.MULTIPLANAR || (k === "mpr3d") === render),
    );
    if (name && name !== model.get("view_layout")) {
      model.set("view_layout", name);
      model.save_changes();
    }
  };
  function intensityToModel(vol) {
    model.set("window", round(vol.cal_max - vol.cal_min, 3));
    model.set("level", round((vol.cal_max + vol.cal_min) / 2, 3));
    model.set("preset", "");
    model.save_changes();
  }
  // The first window: the file's display range (the backend writes the series' own
  // WindowCenter/WindowWidth or the modality's preset there), else the 1st-99th percentile.
  function initialWindow(vol) {
    const lo = vol.hdr.cal_min;
    const hi = vol.hdr.cal_max;
    const [w, l] = Number.isFinite(lo) && Number.isFinite(hi) && hi > lo ? [hi - lo, (hi + lo) / 2] : autoWindow(vol);
    vol.cal_min = l - w / 2;
    vol.cal_max = l + w / 2;
    intensityToModel(vol);
  }
  nv.onIntensityChange = (vol) => {
    if (vol === base()) intensityToModel(vol);
  };
  nv.onMeasurementCompleted = (m) => {
    nv.document.completedMeasurements = [];
    const p0 = Array.from(nv.frac2mm(nv.mm2frac(m.startMM), 0, true)).slice(0, 3);
    const p1 = Array.from(nv.frac2mm(nv.mm2frac(m.endMM), 0, true)).slice(0, 3);
    annotations.add("distance", [p0, p1]);
  };
  // Window/level drag: right button (or shift + left, or the W/L tool), as in clinical viewers:
  // right = wider window, up = brighter (lower level). Only the model changes; applyWindow
  // re-colours at most once per frame.
  let wlDrag = null;
  function wantsWindowing(e) {
    const [left, right] = TOOLS[model.get("tool")] || TOOLS.crosshair;
    if (e.button === 2) return right === WL;
    return e.button === 0 && (e.shiftKey || left === WL);
  }
  canvas.addEventListener("pointerdown", (e) => {
    if (!base() || !wantsWindowing(e)) return;
    const w = model.get("window") > 0 ? model.get("window") : 1;
    wlDrag = { x: e.clientX, y: e.clientY, w, l: model.get("level"), perPx: Math.max(w, 1) / 150, id: e.pointerId };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!wlDrag || e.pointerId !== wlDrag.id) return;
    const w = Math.max(1e-3, wlDrag.w + (e.clientX - wlDrag.x) * wlDrag.perPx);
    const l = wlDrag.l + (e.clientY - wlDrag.y) * wlDrag.perPx;
    model.set("window", round(w, 3));
    model.set("level", round(l, 3));
    if (model.get("preset")) model.set("preset", "");
    model.save_changes();
  });
  const endWl = (e) => {
    if (wlDrag && e.pointerId === wlDrag.id) wlDrag = null;
  };
  canvas.addEventListener("pointerup", endWl);
  canvas.addEventListener("pointercancel", endWl);
  let down = null;
  canvas.addEventListener("pointerdown", (e) => {
    down = [e.clientX, e.clientY, e.button];
  });
  canvas.addEventListener("pointerup", (e) => {
    const d = down;
    down = null;
    if (!d || d[2] !== 0 || model.get("tool") !== "point" || !base()) return;
    if (Math.hypot(e.clientX - d[0], e.clientY - d[1]) > 4) return;
    setTimeout(() => annotations.add("point", [worldMm()]), 0);
  });
  canvas.addEventListener("wheel", () => setTimeout(() => {
    const z = round(nv.scene.pan2Dxyzmm[3], 3);
    if (z !== model.get("zoom")) {
      model.set("zoom", z);
      model.save_changes();
    }
  }, 0), { passive: true });

  // ---- loading -------------------------------------------------------------------------
  async function loadAll() {
    const url = volumeUrl(model, "source");
    if (!url) {
      setStatus("no volume");
      return;
    }
    setStatus("loading");
    const preview = earlyPreview && earlyPreview.url === url ? earlyPreview : previewOf(url);
    earlyPreview = null;
    try {
      // The first slice's two small Range requests go first: started with the whole volume,
      // they would queue behind its 150 MB on the server and in the browser.
      if (preview) await preview.fetched;
      if (disposed) return;
      const ovUrl = volumeUrl(model, "overlay");
      const fetching = Promise.all([
        fetchVolume(url, abort.signal, volumeHeaders(model, "source")),
        ovUrl ? fetchVolume(ovUrl, abort.signal, volumeHeaders(model, "overlay"))
          : Promise.resolve(null),
      ]).then((bufs) => {
        timing.fetched = performance.now();
        return bufs;
      });
      const [[buf, ovBuf]] = await Promise.all([fetching, glReady]); // WebGL set up meanwhile
      if (disposed) return;
      while (nv.volumes.length) nv.removeVolume(nv.volumes[nv.volumes.length - 1]);
      const img = await NVImage.new(buf, niftiName(url), "gray");
      timing.parsed = performance.now();
      // Window before the first GPU upload, so the volume is coloured once.
      if (model.get("preset")) presetToModel(img);
      if (!windowFromModel(img)) initialWindow(img);
      nv.chrisSkipGradient = true;
      applyLayout();
      nv.addVolume(img); // one upload + colour pass of the base
      counts = null;
      if (ovBuf) {
        const ov = await NVImage.new(ovBuf, niftiName(ovUrl), "gray");
        styleOverlay(ov);
        nv.volumes.push(ov); // not addVolume: that would re-colour the base as well
        nv.overlays = nv.volumes.slice(1);
        nv.refreshLayers(ov, 1);
      }
      timing.loaded = performance.now();
      applyLayout();
      if (model.get("position_mm").length === 3) setPosition(model.get("position_mm"), false);
      else if (model.get("ijk").length === 3) applyIjk();
      if (model.get("zoom") !== 1) setZoom(model.get("zoom"));
      applyCrosshair();
      if (model.get("interpolation") !== "linear") applyInterpolation();
      applyAnnotations();
      updateInfo();
      pushLocation();
      if (preview) preview.done();
      timing.firstSlice = performance.now();
      requestAnimationFrame(() => {
        timing.painted = performance.now(); // the first frame with the slice was presented
      });
      setStatus("ready");
    } catch (err) {
      if (!disposed) setStatus(`error: ${err.message || err}`);
    }
  }

  const handlers = {
    "change:preset": applyPreset,
    "change:view_layout": applyLayout,
    "change:tool": applyTool,
    "change:crosshair": applyCrosshair,
    "change:radiological": applyCrosshair,
    "change:interpolation": applyInterpolation,
    "change:position_mm": () => setPosition(model.get("position_mm")),
    "change:ijk": applyIjk,
    "change:zoom": [() => {
      if (Math.abs(nv.scene.pan2Dxyzmm[3] - model.get("zoom")) > 1e-3) setZoom(model.get("zoom"));
    }, updateInfo],
    "change:overlay_opacity": applyOverlayStyle,
    "change:label_colors": applyOverlayStyle,
    "change:label_names": applyOverlayStyle,
    "change:hidden_labels": applyOverlayStyle,
    "change:annotations": applyAnnotations,
    "change:peers": applyAnnotations,
    "change:source_url": loadAll,
    "change:volume_id": loadAll,
    "change:overlay_url": loadAll,
    "change:overlay_volume_id": loadAll,
    "change:show_info": updateInfo,
    "change:window": [applyWindow, updateInfo],
    "change:level": [applyWindow, updateInfo],
    "change:height": () => {
      stage.style.height = `${model.get("height")}px`;
      nv.resizeListener();
    },
  };
  for (const [ev, fns] of Object.entries(handlers)) for (const fn of [fns].flat()) model.on(ev, fn);

  // Test and benchmark hook: the page can reach niivue and our timings.
  el.chrisViewer = {
    nv, model, timing, overlay, annotations, setPosition, mmToScreen: (mm) => mmToScreen(nv, mm),
    bundle: bundle || null, // how the loader (static/loader.js) got this bundle: via server | kernel
  };

  // The first-slice preview needs no WebGL: it starts now, while niivue sets up its context.
  const previewOf = (url) => (url && model.get("view_layout") !== "3d"
    ? startPreview(url, stage, model, abort.signal, timing, volumeHeaders(model, "source")) : null);
  let earlyPreview = previewOf(volumeUrl(model, "source"));
  // Setting up WebGL (shader compilation: a few hundred ms on software GL) holds the page's
  // thread: it waits until the preview is on screen, and runs while the volume downloads.
  const glReady = (earlyPreview ? earlyPreview.shown : Promise.resolve())
    .then(() => (disposed ? Promise.reject(new Error("closed")) : nv.attachToCanvas(canvas)))
    .then(() => {
      timing.attached = performance.now();
      if (disposed) return;
      nv.setCustomSliceShader(LEAN_SLICE_SHADER);
      applyTool();
      applyLayout();
      applyAnnotations();
    });
  glReady.catch(() => null); // loadAll reports the failure
  loadAll();

  return () => {
    disposed = true;
    abort.abort();
    leaveCollab();
    for (const [ev, fns] of Object.entries(handlers)) for (const fn of [fns].flat()) model.off(ev, fn);
    toolbar.dispose();
    nv.cleanup(); // niivue's window/resize listeners and observers
    const lose = nv.gl && nv.gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext();
    el.chrisViewer = undefined;
  };
}

export default { render };
