// First-slice preview: while the whole volume downloads, fetch only the NIfTI header
// and the middle axial slice with HTTP Range requests and draw that slice, windowed,
// on a 2-D canvas. Skipped (no harm) when the server ignores Range or the volume is
// not stored axially. Replaced by the interactive viewer as soon as it is ready.

import { PRESETS, percentileWindow } from "./presets.js";

const DTYPES = {
  2: Uint8Array, 4: Int16Array, 8: Int32Array, 16: Float32Array, 64: Float64Array,
  256: Int8Array, 512: Uint16Array, 768: Uint32Array,
};

async function range(url, start, end, signal, headers) {
  const resp = await fetch(url, {
    credentials: headers.Authorization ? "omit" : "same-origin",
    headers: { Range: `bytes=${start}-${end}`, ...headers },
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
    calMax: dv.getFloat32(124, le),
    calMin: dv.getFloat32(128, le),
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
 * Fetch and draw the middle axial slice. ``windowFor(values, header)`` returns [window, level]
 * (``values()`` gives the slice's scaled values).
 * Resolves to the preview canvas, or null when no preview is possible.
 */
export async function drawPreview(url, stage, windowFor, radiological, signal, timing = {}, fetched = () => {},
  headers = {}) {
  timing.previewStart = performance.now();
  const hbuf = await range(url, 0, 351, signal, headers);
  timing.header = performance.now();
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
  const sbuf = await range(url, start, start + nx * ny * bpv - 1, signal, headers);
  fetched();
  if (!sbuf) return null;
  timing.slice = performance.now();
  const raw = typed(Ctor, sbuf, h.le);
  const { slope, inter } = h;
  // the values (scaled) only when the window has to come from them
  const [w, l] = windowFor(() => Float32Array.from(raw, (v) => v * slope + inter), h);
  // grey = (raw * slope + inter - lo) * 255 / w = raw * a + b
  const a = (slope * 255) / w;
  const b = ((inter - (l - w / 2)) * 255) / w + 0.5; // + 0.5: rounded, as putImageData would
  const canvas = document.createElement("canvas");
  canvas.className = "cjv-preview";
  canvas.width = nx;
  canvas.height = ny;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(nx, ny);
  // one 32-bit write per pixel: opaque grey is the same in either byte order but for alpha
  const rgba = new Uint32Array(img.data.buffer);
  const opaque = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0xff000000 : 0xff;
  const grey = new Uint32Array(256);
  for (let g = 0; g < 256; g++) grey[g] = (opaque | (opaque === 0xff ? g * 0x1010100 : g * 0x10101)) >>> 0;
  // screen column: patient's right on the left in radiological convention
  const flipX = (s[0][0] > 0) === radiological;
  const flipY = s[1][1] > 0; // anterior up
  for (let j = 0; j < ny; j++) {
    const src = j * nx;
    const row = (flipY ? ny - 1 - j : j) * nx;
    for (let i = 0; i < nx; i++) {
      const g = raw[src + i] * a + b;
      rgba[flipX ? row + nx - 1 - i : row + i] = grey[g <= 0 ? 0 : g >= 255 ? 255 : g | 0];
    }
  }
  ctx.putImageData(img, 0, 0);
  canvas.style.aspectRatio = `${nx * Math.abs(s[0][0])} / ${ny * Math.abs(s[1][1])}`;
  stage.appendChild(canvas);
  timing.drawn = performance.now();
  return canvas;
}

/**
 * Start the preview for ``url``. ``fetched`` resolves once its requests are over (the slice's
 * bytes are in, or there is no preview): then the whole volume may be fetched; ``shown`` once
 * the slice is on screen (or there is none): then the page's thread may be busy. Call
 * ``done()`` once the interactive viewer shows the volume: the preview goes away.
 */
export function startPreview(url, stage, model, signal, timing, headers = {}) {
  let finished = false;
  let canvas = null;
  let release;
  let releaseShown;
  const fetched = new Promise((resolve) => {
    release = resolve;
  });
  const shown = new Promise((resolve) => {
    releaseShown = resolve;
  });
  // As the viewer will open: the preset, the model's window, the file's display range (the
  // series' own window), else the 1st-99th percentile (of this slice).
  const windowFor = (values, h) => {
    const fixed = PRESETS[model.get("preset")];
    if (fixed) return fixed;
    if (model.get("window") > 0 && !model.get("preset")) return [model.get("window"), model.get("level")];
    if (!model.get("preset") && Number.isFinite(h.calMin) && Number.isFinite(h.calMax) && h.calMax > h.calMin) {
      return [h.calMax - h.calMin, (h.calMax + h.calMin) / 2];
    }
    return percentileWindow(values());
  };
  drawPreview(url, stage, windowFor, model.get("radiological"), signal, timing, release, headers)
    .finally(release)
    .then((c) => {
      if (!c || finished) {
        if (c) c.remove();
        releaseShown();
        return;
      }
      canvas = c;
      requestAnimationFrame(() => {
        timing.preview = performance.now();
        setTimeout(releaseShown, 0); // a task after this frame was rendered
      });
    })
    .catch(() => releaseShown());
  return {
    url,
    fetched,
    shown,
    done() {
      finished = true;
      if (canvas) canvas.remove();
    },
  };
}
