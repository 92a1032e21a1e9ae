// Window/level presets (Hounsfield units for CT) and the MR automatic window.

/** Fixed presets: name -> [window, level]. */
export const PRESETS = {
  "ct-brain": [80, 40],
  "ct-lung": [1500, -600],
  "ct-bone": [1800, 400],
  "ct-abdomen": [400, 40],
};

/** Labels shown in the preset menu. */
export const PRESET_LABELS = {
  "": "custom",
  "ct-brain": "CT brain 40/80",
  "ct-lung": "CT lung -600/1500",
  "ct-bone": "CT bone 400/1800",
  "ct-abdomen": "CT abdomen 40/400",
  "mr-auto": "MR auto (1-99 %)",
};

/**
 * Window/level from the 1st and 99th percentiles of the non-zero voxels.
 * Samples at most ~2^20 voxels so a 512x512x300 volume costs a few ms.
 */
export function autoWindow(vol, lo = 0.01, hi = 0.99) {
  const img = vol.img;
  let slope = vol.hdr.scl_slope;
  if (!slope || !Number.isFinite(slope)) slope = 1;
  const inter = Number.isFinite(vol.hdr.scl_inter) ? vol.hdr.scl_inter : 0;
  const step = Math.max(1, Math.floor(img.length / (1 << 20)));
  const vals = [];
  for (let i = 0; i < img.length; i += step) {
    const v = img[i];
    if (v !== 0) vals.push(v * slope + inter);
  }
  return percentileWindow(vals, lo, hi);
}

/** Window/level spanning the lo..hi percentiles of ``values`` (zeros ignored). */
export function percentileWindow(values, lo = 0.01, hi = 0.99) {
  const sorted = Float64Array.from(values).filter((v) => v !== 0).sort();
  if (sorted.length === 0) return [1, 0];
  const a = sorted[Math.floor(lo * (sorted.length - 1))];
  const b = sorted[Math.floor(hi * (sorted.length - 1))];
  return [Math.max(b - a, 1e-6), (a + b) / 2];
}

/** Resolve a preset to [window, level]; null when unknown. */
export function presetWindow(name, vol) {
  if (name === "mr-auto") return vol ? autoWindow(vol) : null;
  return PRESETS[name] || null;
}
