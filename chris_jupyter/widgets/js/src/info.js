// On-image information, as in clinical viewers: the value under the cursor (HU for CT) with its
// voxel index and patient mm, per view the slice number and position and orientation markers on
// all four edges. The per-view text is drawn on the 2-D overlay canvas with each frame (a few
// copies of cached text images); the cursor readout is an HTML box, changed only when its text does.
import { mmToIjk } from "./geometry.js";

/** [left, right, top, bottom] letters of a tile, by niivue's own display rules. */
export function edgeLetters(axCorSag, opts) {
  if (axCorSag === 2) return opts.sagittalNoseLeft ? ["A", "P", "S", "I"] : ["P", "A", "S", "I"];
  const [l, r] = opts.isRadiologicalConvention ? ["R", "L"] : ["L", "R"];
  return axCorSag === 0 ? [l, r, "A", "P"] : [l, r, "S", "I"];
}
// In a tile of axCorSag (0 axial, 1 coronal, 2 sagittal): [horizontal, vertical, through-plane] world axes.
const TILE_AXES = [[0, 1, 2], [0, 2, 1], [1, 2, 0]];
const AXIS_NAME = ["x", "y", "z"];

/** The voxel value at native index ijk (slope/intercept applied), or null outside. */
export function voxelValue(vol, ijk) {
  const d = vol.hdr.dims;
  const [i, j, k] = ijk;
  if (i < 0 || j < 0 || k < 0 || i >= d[1] || j >= d[2] || k >= d[3]) return null;
  const slope = vol.hdr.scl_slope && Number.isFinite(vol.hdr.scl_slope) ? vol.hdr.scl_slope : 1;
  const inter = Number.isFinite(vol.hdr.scl_inter) ? vol.hdr.scl_inter : 0;
  return vol.img[i + d[1] * (j + d[2] * k)] * slope + inter;
}

/** What the cursor points at: {mm, ijk, value} or null (outside the image, or no 2-D tile). */
export function probeAt(nv, canvasX, canvasY) {
  const vol = nv.volumes[0];
  if (!vol) return null;
  const frac = nv.canvasPos2frac([canvasX, canvasY]);
  if (!frac || frac[0] < 0) return null;
  const mm = Array.from(nv.frac2mm(frac, 0, true)).slice(0, 3);
  const ijk = mmToIjk(vol, mm).map(Math.round);
  const value = voxelValue(vol, ijk);
  return value === null ? null : { mm, ijk, value };
}

const fmt = (v, d = 1) => (Math.abs(v) < 1e-9 ? 0 : v).toFixed(d);

/** The readout text: value (HU for CT), voxel index and patient mm. */
export function probeText(p, modality) {
  if (!p) return "";
  const unit = modality === "CT" ? " HU" : "";
  const v = Number.isInteger(p.value) ? String(p.value) : p.value.toPrecision(5);
  return `${v}${unit}  [${p.ijk.join(", ")}]  (${p.mm.map((x) => fmt(x)).join(", ")}) mm`;
}

// Outlined text is drawn once per string and size into a small canvas and then copied: a copy
// costs far less than stroking and filling the glyphs again with every frame (software GL and
// canvas: the frame rate while scrolling with the information shown).
const SPRITES = new Map();
const MAX_SPRITES = 1024; // "Im n/N …" of every slice of a few volumes
function sprite(s, dpr) {
  const key = `${dpr}|${s}`;
  let c = SPRITES.get(key);
  if (c) return c;
  const font = `${Math.round(12 * dpr)}px sans-serif`;
  const line = 3 * dpr;
  c = document.createElement("canvas");
  let ctx = c.getContext("2d");
  ctx.font = font;
  c.width = Math.ceil(ctx.measureText(s).width + 2 * line);
  c.height = Math.ceil(16 * dpr + 2 * line);
  ctx = c.getContext("2d"); // resizing reset its state
  ctx.font = font;
  ctx.textBaseline = "middle";
  ctx.lineWidth = line;
  ctx.lineJoin = "round";
  ctx.strokeStyle = "rgba(0,0,0,0.85)";
  ctx.fillStyle = "#ffe680";
  ctx.strokeText(s, line, c.height / 2);
  ctx.fillText(s, line, c.height / 2);
  if (SPRITES.size >= MAX_SPRITES) SPRITES.delete(SPRITES.keys().next().value);
  SPRITES.set(key, c);
  return c;
}

/** The 2-D tiles: {axCorSag, rect: [left, top, width, height]} in device pixels (niivue's width
 * may be negative, for a flipped view: here it is not). */
function tiles2d(nv) {
  const out = [];
  for (const s of nv.screenSlices || []) {
    if (s.axCorSag > 2 || !s.leftTopWidthHeight) continue;
    let [l, t, w, h] = s.leftTopWidthHeight;
    if (w < 0) {
      l += w;
      w = -w;
    }
    out.push({ axCorSag: s.axCorSag, rect: [l, t, w, h] });
  }
  return out;
}

/** Draw orientation markers and "Im n/N, z … mm" in every 2-D tile. */
export function drawTileInfo(ctx, nv, dpr) {
  const vol = nv.volumes[0];
  if (!vol || !vol.dimsRAS) return;
  const frac = nv.scene.crosshairPos;
  const mm = nv.frac2mm(frac, 0, true);
  const pad = 4 * dpr;
  // (x, y): the text's anchor as fillText with textBaseline "middle" and this textAlign has it
  const text = (s, x, y, align) => {
    const c = sprite(s, dpr);
    const inner = c.width - 6 * dpr;
    const left = align === "left" ? x : align === "right" ? x - inner : x - inner / 2;
    ctx.drawImage(c, Math.round(left - 3 * dpr), Math.round(y - c.height / 2));
  };
  const h = 12 * dpr;
  for (const s of tiles2d(nv)) {
    const [l, t, w, ht] = s.rect;
    const [left, right, top, bottom] = edgeLetters(s.axCorSag, nv.opts);
    const zAxis = TILE_AXES[s.axCorSag][2];
    // markers a little inside each edge, off the middle: clear of a centred crosshair
    text(left, l + pad, t + ht / 3, "left");
    text(right, l + w - pad, t + ht / 3, "right");
    text(top, l + w / 3, t + pad + h / 2, "center");
    text(bottom, l + (2 * w) / 3, t + ht - pad - h / 2, "center");
    const n = vol.dimsRAS[zAxis + 1];
    const im = Math.min(n, Math.max(1, Math.floor(frac[zAxis] * n) + 1));
    text(`Im ${im}/${n}  ${AXIS_NAME[zAxis]} ${fmt(mm[zAxis])} mm`, l + pad, t + ht - pad - h / 2, "left");
  }
}

const num = (v) => String(Number(v.toPrecision(4)));

/**
 * The line naming what is shown, and its modality ("" when unknown). For a DICOM series the
 * backend writes "CT | Doe^Jane | 20240101 | Head | Axial" into the NIfTI description; for a
 * NIfTI file or a kernel's array only what is known: "NIfTI | ct.nii | 96×96×40 | 0.8×0.8×2.5 mm"
 * (and the file's own description, quoted), never a patient or a modality it does not have.
 */
export function sourceLine(vol, volumeId = "", sourceUrl = "") {
  const header = (vol.hdr.description || "").replace(/\0/g, "").trim();
  const parts = header.split(" | ");
  if (parts.length === 5 && parts[0]) return { line: header, modality: parts[0] };
  let kind = "";
  let name = "";
  if (volumeId.startsWith("tmp:")) kind = "array";
  else {
    let ref = volumeId.startsWith("path:") ? volumeId.slice(5) : sourceUrl.split(/[?#]/)[0] || volumeId;
    try {
      ref = sourceUrl && !volumeId ? decodeURIComponent(ref) : ref;
    } catch (_e) {
      // a malformed escape: show it as it is
    }
    name = ref.split("/").filter(Boolean).pop() || "";
    if (/\.nii(\.gz)?$/i.test(name)) kind = "NIfTI";
    else if (volumeId.startsWith("path:")) kind = "DICOM";
  }
  const d = vol.hdr.dims || [];
  const px = vol.hdr.pixDims || [];
  const size = d.length > 3 ? `${d[1]}×${d[2]}×${d[3]}` : "";
  const spacing = px.length > 3 ? `${num(px[1])}×${num(px[2])}×${num(px[3])} mm` : "";
  const own = header ? `“${header}”` : "";
  return { line: [kind, name, size, spacing, own].filter(Boolean).join(" | "), modality: "" };
}

/**
 * The canvas corner for the information box ("tr", "br", "tl" or "bl") that covers the least of
 * the image tiles (an MPR layout leaves a quadrant free: the box goes there, off the tiles'
 * markers). Tiles are [left, top, width, height] and the sizes are in one unit; ties go to the
 * top right, the usual place.
 */
export function infoCorner(tiles, canvasW, canvasH, boxW, boxH, pad = 6) {
  const corners = [
    ["tr", canvasW - pad - boxW, pad],
    ["br", canvasW - pad - boxW, canvasH - pad - boxH],
    ["tl", pad, pad],
    ["bl", pad, canvasH - pad - boxH],
  ];
  let best = null;
  for (const [name, x, y] of corners) {
    let covered = 0;
    for (const [l, t, w, h] of tiles) {
      const ox = Math.min(x + boxW, l + w) - Math.max(x, l);
      const oy = Math.min(y + boxH, t + h) - Math.max(y, t);
      if (ox > 0 && oy > 0) covered += ox * oy;
    }
    if (!best || covered < best.covered - 0.5) best = { name, covered };
  }
  return best.name;
}

/** The 2-D tiles' rectangles in CSS pixels. */
export function tileRects(nv, dpr) {
  return tiles2d(nv).map(({ rect: [l, t, w, h] }) => [l / dpr, t / dpr, w / dpr, h / dpr]);
}
