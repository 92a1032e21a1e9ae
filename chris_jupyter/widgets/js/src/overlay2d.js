// A 2-D canvas laid over the WebGL canvas: annotations and remote peers' cursors.
// Drawn after every niivue frame, in canvas device pixels.
import { mmToScreen, sliceTolerance } from "./geometry.js";
import { drawTileInfo } from "./info.js";

const ANNOTATION_COLOR = "#ffd400";
const SELECTED_COLOR = "#00e5ff";

function dist(a, b) {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

export class Overlay2D {
  constructor(container, glCanvas) {
    this.gl = glCanvas;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "cjv-overlay";
    container.appendChild(this.canvas);
    this.ctx = this.canvas.getContext("2d");
    this.annotations = [];
    this.peers = [];
    this.selected = null;
    this.showInfo = true; // orientation markers and slice numbers per tile
    this.dirty = false;
  }

  draw(nv) {
    const c = this.canvas;
    if (c.width !== this.gl.width || c.height !== this.gl.height) {
      c.width = this.gl.width; // resizing clears the canvas
      c.height = this.gl.height;
      this.dirty = false;
    }
    const ctx = this.ctx;
    const empty = !nv.volumes.length || (!this.annotations.length && !this.peers.length && !this.showInfo);
    // an untouched layer costs nothing to composite: clear only what was drawn
    if (this.dirty) ctx.clearRect(0, 0, c.width, c.height);
    this.dirty = !empty;
    if (empty) return;
    const tol = sliceTolerance(nv.volumes[0]);
    const dpr = c.width / Math.max(1, c.clientWidth || c.width);
    ctx.font = `${Math.round(12 * dpr)}px sans-serif`;
    if (this.showInfo) drawTileInfo(ctx, nv, dpr);
    ctx.lineWidth = 2 * dpr;
    ctx.lineWidth = 2 * dpr;
    for (const a of this.annotations) {
      const color = a.id === this.selected ? SELECTED_COLOR : a.color || ANNOTATION_COLOR;
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      const pts = (a.points || []).map((p) => mmToScreen(nv, p));
      if (a.kind === "point" && pts.length) {
        for (const s of pts[0]) {
          if (s.depth > tol) continue;
          ctx.beginPath();
          ctx.arc(s.x, s.y, 4 * dpr, 0, 2 * Math.PI);
          ctx.fill();
          if (a.text) ctx.fillText(a.text, s.x + 7 * dpr, s.y - 7 * dpr);
        }
      } else if (a.kind === "distance" && pts.length === 2) {
        const mm = dist(a.points[0], a.points[1]);
        for (const s0 of pts[0]) {
          const s1 = pts[1].find((q) => q.tile === s0.tile);
          if (!s1 || s0.depth > tol || s1.depth > tol) continue;
          ctx.beginPath();
          ctx.moveTo(s0.x, s0.y);
          ctx.lineTo(s1.x, s1.y);
          ctx.stroke();
          const label = `${mm.toFixed(1)} mm${a.text ? " " + a.text : ""}`;
          ctx.fillText(label, (s0.x + s1.x) / 2 + 6 * dpr, (s0.y + s1.y) / 2 - 6 * dpr);
        }
      }
    }
    for (const p of this.peers) {
      if (!p.position) continue;
      ctx.strokeStyle = p.color || "#ff00ff";
      ctx.fillStyle = p.color || "#ff00ff";
      for (const s of mmToScreen(nv, p.position)) {
        const r = 8 * dpr;
        ctx.beginPath();
        ctx.moveTo(s.x - r, s.y);
        ctx.lineTo(s.x + r, s.y);
        ctx.moveTo(s.x, s.y - r);
        ctx.lineTo(s.x, s.y + r);
        ctx.stroke();
        ctx.fillText(p.label || p.user || "", s.x + r, s.y + r + 10 * dpr);
      }
    }
  }
}
