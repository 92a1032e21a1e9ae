// On-image information, as in clinical viewers: the value under the cursor (HU for CT) with its
// voxel index and patient mm, per view the slice number and position and orientation markers on
// all four edges. The per-view text is drawn on the 2-D overlay canvas with each frame (a few
// fillText calls); the cursor readout is an HTML box updated only when the pointer moves.
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

/** Draw orientation markers and "Im n/N, z … mm" in every 2-D tile. */
export function drawTileInfo(ctx, nv, dpr) {
  const vol = nv.volumes[0];
  if (!vol || !vol.dimsRAS) return;
  const frac = nv.scene.crosshairPos;
  const mm = nv.frac2mm(frac, 0, true);
  const pad = 4 * dpr;
  ctx.textBaseline = "middle";
  ctx.lineWidth = 3 * dpr;
  ctx.strokeStyle = "rgba(0,0,0,0.85)";
  ctx.fillStyle = "#ffe680";
  const text = (s, x, y, align) => {
    ctx.textAlign = align;
    ctx.strokeText(s, x, y);
    ctx.fillText(s, x, y);
  };
  const h = 12 * dpr;
  for (const s of nv.screenSlices || []) {
    if (s.axCorSag > 2 || !s.leftTopWidthHeight) continue;
    let [l, t, w, ht] = s.leftTopWidthHeight;
    if (w < 0) {
      l += w;
      w = -w;
    }
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
  ctx.textAlign = "start";
  ctx.textBaseline = "alphabetic";
}
