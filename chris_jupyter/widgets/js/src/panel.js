// The annotation list beside the image: select (jump to), edit text, delete.

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function describe(a) {
  if (a.kind === "distance" && a.points && a.points.length === 2) {
    const [p, q] = a.points;
    const d = Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
    return `${d.toFixed(1)} mm`;
  }
  const p = (a.points && a.points[0]) || [0, 0, 0];
  return p.map((v) => v.toFixed(1)).join(", ");
}

/**
 * Render the list. Callbacks: onSelect(a), onText(a, text), onDelete(a).
 */
export function renderPanel(list, annotations, selected, { onSelect, onText, onDelete }) {
  list.replaceChildren();
  if (!annotations.length) {
    list.appendChild(el("div", "cjv-empty", "No annotations"));
    return;
  }
  for (const a of annotations) {
    const row = el("div", "cjv-ann" + (a.id === selected ? " cjv-selected" : ""));
    row.dataset.id = a.id;
    const head = el("div", "cjv-ann-head");
    const kind = el("span", "cjv-ann-kind", a.kind === "distance" ? "↔" : "•");
    const what = el("span", "cjv-ann-what", describe(a));
    what.title = "Go to this annotation";
    what.addEventListener("click", () => onSelect(a));
    const del = el("button", "cjv-ann-del", "✕");
    del.title = "Delete";
    del.addEventListener("click", () => onDelete(a));
    head.append(kind, what, del);
    const text = el("input", "cjv-ann-text");
    text.type = "text";
    text.placeholder = "note…";
    text.value = a.text || "";
    text.addEventListener("change", () => onText(a, text.value));
    text.addEventListener("keydown", (e) => e.stopPropagation());
    const meta = el("div", "cjv-ann-meta", a.author ? `${a.author}` : "");
    row.append(head, text, meta);
    list.appendChild(row);
  }
}
