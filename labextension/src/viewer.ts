/**
 * The ChRIS viewer in a main-area tab. It is the notebook widget's own bundle (served by the
 * backend at `chris/api/v1/viewer/viewer.js`), rendered with a small local model instead of a
 * kernel: the viewer fetches the volume itself and authenticates like the page (cookie + xsrf).
 */

import { Widget } from '@lumino/widgets';
import type { ChrisApi } from './api';

import defaults from './viewer-defaults.json';

type Handler = (ev: { name: string; new: unknown; old: unknown }) => void;

/** What the viewer bundle expects of an anywidget model, kept in the page. */
export class LocalModel {
  private handlers = new Map<string, Handler[]>();
  readonly state: Record<string, unknown>;

  constructor(state: Record<string, unknown>) {
    this.state = { ...state };
  }

  get(key: string): unknown {
    return this.state[key];
  }

  set(key: string, value: unknown): void {
    const old = this.state[key];
    this.state[key] = value;
    if (JSON.stringify(old) !== JSON.stringify(value)) {
      for (const f of this.handlers.get(`change:${key}`) || []) {
        f({ name: key, new: value, old });
      }
    }
  }

  on(event: string, f: Handler): void {
    this.handlers.set(event, [...(this.handlers.get(event) || []), f]);
  }

  off(event: string, f?: Handler): void {
    this.handlers.set(
      event,
      (this.handlers.get(event) || []).filter(g => f !== undefined && g !== f)
    );
  }

  save_changes(): void {
    // nothing to sync: there is no kernel
  }

  send(): void {
    // custom messages go to a kernel; there is none
  }
}

/** The viewer's starting state for a volume id (its trait defaults, then ours). */
export function viewerState(volumeId: string, user = ''): Record<string, unknown> {
  return { ...(defaults as Record<string, unknown>), volume_id: volumeId, user, height: 560 };
}

interface IViewerModule {
  default: { render(args: { model: LocalModel; el: HTMLElement }): (() => void) | void };
}

let cssAdded = false;

export class ViewerWidget extends Widget {
  readonly model: LocalModel;
  private unrender: (() => void) | void = undefined;

  constructor(
    private api: Pick<ChrisApi, 'url' | 'scriptUrl'>,
    readonly volumeId: string,
    label: string,
    user = ''
  ) {
    super();
    this.id = `chris-viewer-${encodeURIComponent(volumeId)}`;
    this.addClass('chris-lab-viewer');
    this.title.label = label;
    this.title.caption = `ChRIS viewer: ${volumeId}`;
    this.title.closable = true;
    this.model = new LocalModel(viewerState(volumeId, user));
    this.node.tabIndex = 0;
    const status = document.createElement('div');
    status.className = 'chris-lab-viewer-status';
    status.textContent = 'loading the viewer…';
    this.node.appendChild(status);
    void this.start(status);
  }

  private async start(status: HTMLElement): Promise<void> {
    try {
      if (!cssAdded) {
        const link = document.createElement('link');
        link.rel = 'stylesheet';
        link.href = this.api.url('viewer/viewer.css');
        document.head.appendChild(link);
        cssAdded = true;
      }
      const mod = (await import(/* webpackIgnore: true */ this.api.scriptUrl('viewer/viewer.js'))) as IViewerModule;
      const el = document.createElement('div');
      el.className = 'chris-lab-viewer-root';
      this.node.appendChild(el);
      status.textContent = '';
      this.model.on('change:status', ev => {
        const s = String(ev.new || '');
        status.textContent = s.startsWith('error') ? s : '';
        status.classList.toggle('chris-lab-error', s.startsWith('error'));
      });
      this.unrender = mod.default.render({ model: this.model, el });
    } catch (e) {
      status.textContent = `the viewer could not load: ${(e as Error).message}`;
      status.classList.add('chris-lab-error');
    }
  }

  dispose(): void {
    if (typeof this.unrender === 'function') {
      this.unrender();
      this.unrender = undefined;
    }
    super.dispose();
  }
}
