// First-slice preview: while the whole volume downloads, fetch only the NIfTI header
// and the middle axial slice with HTTP Range requests and draw that slice, windowed,
// on a 2-D canvas. Skipped (no harm) when the server ignores Range or the volume is
// not stored axially. Replaced by the interactive viewer as soon as it is ready.

import { PRESETS, percentileWindow } from "./presets.js";

const DTYPES = {
  2: Uint8Array, 4: Int16Array, 8: Int32Array, 16: Float32Array, 64: Float64Array,
  256: Int8Array, 512: Uint16Array, 768: Uint32Array,
};

async function range(url, start, end, signal) {
  const resp = await fetch(url, {
    credentials: "same-origin",
    headers: { Range: `bytes=${start}-${end}` },
    signal,
  });
  if (resp.status !== 206) {
    if (resp.body) resp.body.cancel();
    return null;
  }
  return resp.arrayBuffer();
}

/** Parse the fields of a NIfTI-1 header the preview needs (null if not NIfTI-1). */
export function parseHeader(buf) {
  const dv = new DataView(buf);
  let le = true;
  if (dv.getInt32(0, true) !== 348) {
    if (dv.getInt32(0, false) !== 348) return null;
    le = false;
  }
  const dims = [0, 1, 2, 3].map((i) => dv.getInt16(40 + 2 * i, le));
  const pix = [1, 2, 3].map((i) => dv.getFloat32(76 + 4 * i, le));
  const srow = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => dv.getFloat32(280 + 16 * r + 4 * c, le)));
  return {
    le,
    dims,
    pix,
    srow: dv.getInt16(254, le) > 0 ? srow : null,
    datatype: dv.getInt16(70, le),
    voxOffset: dv.getFloat32(108, le),
    slope: dv.getFloat32(112, le) || 1,
    inter: dv.getFloat32(116, le) || 0,
  };
}

function typed(Ctor, buf, le) {
  const arr = new Ctor(buf);
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (le === little || Ctor.BYTES_PER_ELEMENT === 1) return arr;
  const dv = new DataView(buf);
  const out = new Ctor(arr.length);
  const get = `get${Ctor.name.replace("Array", "")}`;
  for (let i = 0; i < arr.length; i++) out[i] = dv[get](i * Ctor.BYTES_PER_ELEMENT, le);
  return out;
}

/**
 * Fetch and draw the middle axial slice. ``windowFor(values)`` returns [window, level].
 * Resolves to the preview canvas, or null when no preview is possible.
 */
export async function drawPreview(url, stage, windowFor, radiological, signal) {
  const hbuf = await range(url, 0, 351, signal);
  if (!hbuf) return null;
  const h = parseHeader(hbuf);
  const Ctor = h && DTYPES[h.datatype];
  if (!Ctor || h.dims[0] < 3) return null;
  const [, nx, ny, nz] = h.dims;
  // only for axial storage: voxel axes i, j, k along world x, y, z
  const s = h.srow || [[h.pix[0], 0, 0], [0, h.pix[1], 0], [0, 0, h.pix[2]]];
  const diag = [0, 1, 2].every((a) => Math.abs(s[a][a]) >= 0.9 * Math.hypot(s[a][0], s[a][1], s[a][2]));
  if (!diag) return null;
  const bpv = Ctor.BYTES_PER_ELEMENT;
  const k = Math.floor(nz / 2);
  const start = Math.round(h.voxOffset) + k * nx * ny * bpv;
  const sbuf = await range(url, start, start + nx * ny * bpv - 1, signal);
  if (!sbuf) return null;
  const raw = typed(Ctor, sbuf, h.le);
  const vals = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) vals[i] = raw[i] * h.slope + h.inter;
  const [w, l] = windowFor(vals);
  const lo = l - w / 2;
  const canvas = document.createElement("canvas");
  canvas.className = "cjv-preview";
  canvas.width = nx;
  canvas.height = ny;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(nx, ny);
  // screen column: patient's right on the left in radiological convention
  const flipX = (s[0][0] > 0) === radiological;
  const flipY = s[1][1] > 0; // anterior up
  for (let j = 0; j < ny; j++) {
    const row = flipY ? ny - 1 - j : j;
    for (let i = 0; i < nx; i++) {
      const col = flipX ? nx - 1 - i : i;
      const g = Math.max(0, Math.min(255, ((vals[j * nx + i] - lo) / w) * 255));
      const o = 4 * (row * nx + col);
      img.data[o] = img.data[o + 1] = img.data[o + 2] = g;
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  canvas.style.aspectRatio = `${nx * Math.abs(s[0][0])} / ${ny * Math.abs(s[1][1])}`;
  stage.appendChild(canvas);
  return canvas;
}

/**
 * Start the preview for ``url`` (in parallel with the full download). Call
 * ``done()`` once the interactive viewer shows the volume: the preview goes away.
 */
export function startPreview(url, stage, model, signal, timing) {
  let finished = false;
  let canvas = null;
  const windowFor = (vals) => {
    const fixed = PRESETS[model.get("preset")];
    if (fixed) return fixed;
    if (model.get("window") > 0 && !model.get("preset")) return [model.get("window"), model.get("level")];
    return percentileWindow(vals);
  };
  drawPreview(url, stage, windowFor, model.get("radiological"), signal)
    .then((c) => {
      if (!c) return;
      if (finished) {
        c.remove();
        return;
      }
      canvas = c;
      requestAnimationFrame(() => {
        timing.preview = performance.now();
      });
    })
    .catch(() => null);
  return {
    done() {
      finished = true;
      if (canvas) canvas.remove();
    },
  };
}
