// Label-volume colour tables: per-label colours ("#rrggbb"), label 0 transparent.

const PALETTE = [
  "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
  "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
];

function hex(c) {
  const m = /^#?([0-9a-f]{6})$/i.exec(c || "");
  if (!m) return null;
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The colour of label i: its own from ``colors``, else the palette's. */
export function labelColor(i, colors = {}) {
  const rgb = hex(colors[String(i)]) || hex(PALETTE[(i - 1 + PALETTE.length) % PALETTE.length]);
  return `#${rgb.map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

/** Voxels per non-zero label value (one pass over the label volume, done once per load). */
export function labelCounts(vol) {
  const counts = new Map();
  const img = vol.img;
  for (let i = 0; i < img.length; i++) {
    const v = img[i];
    if (v !== 0) counts.set(v, (counts.get(v) || 0) + 1);
  }
  return new Map([...counts.entries()].sort((a, b) => a[0] - b[0]));
}

/** Build a niivue label colormap for labels 0..maxLabel; ``hidden`` labels are transparent. */
export function labelColormap(maxLabel, colors = {}, names = {}, hidden = []) {
  const cm = { R: [], G: [], B: [], A: [], I: [], labels: [] };
  const top = Math.max(1, Math.min(65535, Math.round(maxLabel)));
  for (let i = 0; i <= top; i++) {
    const rgb = hex(colors[String(i)]) || hex(PALETTE[(i - 1 + PALETTE.length) % PALETTE.length]);
    cm.R.push(rgb[0]);
    cm.G.push(rgb[1]);
    cm.B.push(rgb[2]);
    cm.A.push(i === 0 || hidden.includes(i) ? 0 : 255);
    cm.I.push(i);
    cm.labels.push(names[String(i)] || (i === 0 ? "" : `label ${i}`));
  }
  return cm;
}
