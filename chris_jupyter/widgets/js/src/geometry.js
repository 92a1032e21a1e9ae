// Small geometry helpers: native voxel <-> world mm, and world mm -> screen per tile.

/** 4x4 row-major affine (array of 4 rows) applied to a point. */
export function applyAffine(a, p) {
  return [0, 1, 2].map((r) => a[r][0] * p[0] + a[r][1] * p[1] + a[r][2] * p[2] + a[r][3]);
}

/** Inverse of an affine whose last row is [0, 0, 0, 1]. */
export function invertAffine(a) {
  const [m00, m01, m02] = a[0];
  const [m10, m11, m12] = a[1];
  const [m20, m21, m22] = a[2];
  const det =
    m00 * (m11 * m22 - m12 * m21) - m01 * (m10 * m22 - m12 * m20) + m02 * (m10 * m21 - m11 * m20);
  const d = det === 0 ? 1e-12 : det;
  const inv = [
    [(m11 * m22 - m12 * m21) / d, (m02 * m21 - m01 * m22) / d, (m01 * m12 - m02 * m11) / d],
    [(m12 * m20 - m10 * m22) / d, (m00 * m22 - m02 * m20) / d, (m02 * m10 - m00 * m12) / d],
    [(m10 * m21 - m11 * m20) / d, (m01 * m20 - m00 * m21) / d, (m00 * m11 - m01 * m10) / d],
  ];
  const t = [a[0][3], a[1][3], a[2][3]];
  return inv.map((row) => [...row, -(row[0] * t[0] + row[1] * t[1] + row[2] * t[2])]).concat([[0, 0, 0, 1]]);
}

/** The affine of the file's native voxel grid (i, j, k as in the NIfTI/numpy array). */
export function nativeAffine(vol) {
  return vol.hdr.affine.map((row) => Array.from(row));
}

export function mmToIjk(vol, mm) {
  return applyAffine(invertAffine(nativeAffine(vol)), mm);
}

export function ijkToMm(vol, ijk) {
  return applyAffine(nativeAffine(vol), ijk);
}

function swizzle(mm, axCorSag) {
  if (axCorSag === 1) return [mm[0], mm[2], mm[1]];
  if (axCorSag === 2) return [mm[1], mm[2], mm[0]];
  return mm;
}

/**
 * Screen positions (canvas device pixels) of a world point in every 2-D tile.
 *
 * Returns a list of {x, y, tile, axCorSag, depth} where depth is the distance
 * in mm between the point and the plane shown in that tile (so callers can draw
 * annotations only on the slice they belong to).
 */
export function mmToScreen(nv, mm) {
  const out = [];
  (nv.screenSlices || []).forEach((s, tile) => {
    if (s.axCorSag > 2 || !s.AxyzMxy || s.AxyzMxy.length < 4) return;
    const p = swizzle(mm, s.axCorSag);
    const v = s.AxyzMxy;
    const planeZ = v[2] + v[4] * (p[1] - v[1]) - v[3] * (p[0] - v[0]);
    const fx = (p[0] - s.leftTopMM[0]) / s.fovMM[0];
    const fy = (p[1] - s.leftTopMM[1]) / s.fovMM[1];
    if (fx < 0 || fx > 1 || fy < 0 || fy > 1) return;
    const ltwh = s.leftTopWidthHeight.slice();
    let sx = fx;
    if (ltwh[2] < 0) {
      ltwh[0] += ltwh[2];
      ltwh[2] = -ltwh[2];
      sx = 1 - fx;
    }
    out.push({
      x: ltwh[0] + sx * ltwh[2],
      y: ltwh[1] + (1 - fy) * ltwh[3],
      tile,
      axCorSag: s.axCorSag,
      depth: Math.abs(p[2] - planeZ),
    });
  });
  return out;
}

/** Half the largest voxel spacing: a point closer than this to a plane is "on" the slice. */
export function sliceTolerance(vol) {
  const pd = vol.hdr.pixDims;
  return 0.5 * Math.max(Math.abs(pd[1]), Math.abs(pd[2]), Math.abs(pd[3])) + 1e-3;
}
