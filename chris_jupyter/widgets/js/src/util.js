// Small shared helpers.

/** A random 16-hex-digit id (crypto.randomUUID needs a secure context; this does not). */
export function newId() {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export const round = (v, d = 4) => Math.round(v * 10 ** d) / 10 ** d;

export const close = (a, b, eps) =>
  a && b && a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) <= eps);
