// Annotation edits: every change is a new `annotations` list set on the model, so
// the kernel (and, through the backend's event stream, other users) see each edit.
import { newId, round } from "./util.js";

export class AnnotationEditor {
  /**
   * @param model  the anywidget model
   * @param hooks  {refresh(), goTo(mm)}: redraw the list/overlay; move the crosshair
   */
  constructor(model, hooks) {
    this.model = model;
    this.hooks = hooks;
    this.selected = null;
    this.panelCallbacks = {
      onSelect: (a) => {
        this.selected = a.id;
        if (a.points && a.points.length) hooks.goTo(a.points[0]);
        hooks.refresh();
      },
      onText: (a, text) => this.edit((anns) => anns.map((x) => (x.id === a.id ? { ...x, text } : x))),
      onDelete: (a) => this.edit((anns) => anns.filter((x) => x.id !== a.id)),
    };
  }

  list() {
    return this.model.get("annotations") || [];
  }

  edit(fn) {
    this.model.set("annotations", fn(this.list().map((a) => ({ ...a }))));
    this.model.save_changes();
    this.hooks.refresh();
  }

  add(kind, points, text = "") {
    const a = {
      id: newId(),
      kind,
      points: points.map((p) => p.map((v) => round(v))),
      text,
      author: this.model.get("user") || "",
      created: new Date().toISOString(),
    };
    this.selected = a.id;
    this.edit((anns) => [...anns, a]);
    return a;
  }
}
