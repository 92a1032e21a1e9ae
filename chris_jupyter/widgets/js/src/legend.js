// The label legend: per label a visibility checkbox, its colour, name, voxel count and volume.
import { labelColor } from "./labels.js";

/**
 * Render the legend of ``counts`` (label value -> voxels) into ``el``. ``mlPerVoxel`` turns
 * counts into millilitres; ``onToggle(value, visible)`` is called when a box is clicked.
 */
export function renderLegend(el, counts, { colors, names, hidden, mlPerVoxel, onToggle }) {
  el.replaceChildren();
  if (!counts || !counts.size) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  const head = document.createElement("div");
  head.className = "cjv-legend-head";
  head.textContent = "Labels";
  el.appendChild(head);
  for (const [value, n] of counts) {
    const row = document.createElement("label");
    row.className = "cjv-legend-row";
    row.dataset.label = String(value);
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = !hidden.includes(value);
    box.addEventListener("change", () => onToggle(value, box.checked));
    const swatch = document.createElement("span");
    swatch.className = "cjv-swatch";
    swatch.style.background = labelColor(value, colors);
    const name = document.createElement("span");
    name.className = "cjv-legend-name";
    name.textContent = names[String(value)] || `label ${value}`;
    const size = document.createElement("span");
    size.className = "cjv-legend-size";
    size.textContent = `${n} vx · ${(n * mlPerVoxel).toFixed(n * mlPerVoxel < 10 ? 2 : 1)} ml`;
    row.append(box, swatch, name, size);
    el.appendChild(row);
  }
}
