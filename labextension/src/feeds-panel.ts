/**
 * The Feeds and jobs panel (a main-area tab): the feeds with search, the chosen feed's graph
 * of plugin instances coloured by state, and the chosen instance's parameters, log, outputs
 * (open in the viewer), cancel and re-run; the feed's note (editable) and its comments (oldest
 * first, with a box to add one). It follows the server's event stream: state changes redraw the
 * graph and refresh the chosen instance's log, new comments and note changes show by themselves;
 * nothing polls.
 */

import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { ChrisApi, ChrisComputeApi, ChrisShareApi, IComment, IEntry, IFeed, IInstance, viewerVolumeId } from './api';
import { openShareDialog } from './share-dialog';
import { IDagLayout, isFinal, layoutDag, mergeInstance, nodeLabel, stateGroup } from './dag';
import { ErrorBox } from './error-box';
import { button, el } from './panel';

export const FEED_EVENTS = [
  'plugin_instance.state',
  'feed.created',
  'feed.updated',
  'feed.deleted',
  'feed.comment',
  'share.created',
  'share.deleted'
];

const NODE_W = 170;
const NODE_H = 40;
const GAP_X = 24;
const GAP_Y = 36;
const SVG_NS = 'http://www.w3.org/2000/svg';

export interface IFeedsPanelOptions {
  api: ChrisApi;
  compute: ChrisComputeApi;
  openViewer(volumeId: string, label: string): void;
  /** Open the plugin form to run an instance's plugin again with its parameters. */
  rerun(instance: IInstance): void;
  events?(types: string[]): EventSource | null;
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    e.setAttribute(k, String(v));
  }
  return e;
}

export class FeedsPanel extends Widget {
  private feeds: IFeed[] = [];
  private search = el('input', 'chris-lab-search');
  private feedList = el('div', 'chris-lab-feed-list');
  private header = el('div', 'chris-lab-feed-header');
  private note = el('textarea', 'chris-lab-feed-note-input');
  private noteStatus = el('span', 'chris-lab-feed-note-status');
  private comments = el('ol', 'chris-lab-comments');
  private commentInput = el('textarea', 'chris-lab-comment-input');
  private social: ChrisShareApi;
  /** The note as the server last gave it (an edit in progress is kept when another arrives). */
  private savedNote = '';
  private graph = el('div', 'chris-lab-graph');
  private details = el('div', 'chris-lab-details');
  private errorBox = new ErrorBox();
  private instances = new Map<number, IInstance>();
  private source: EventSource | null = null;
  private searchTimer = 0;
  /** The feed shown, and the instance chosen in it. */
  feedId: number | null = null;
  instanceId: number | null = null;

  constructor(private options: IFeedsPanelOptions) {
    super();
    this.social = new ChrisShareApi(options.api);
    this.note.rows = 3;
    this.note.placeholder = 'A note on this feed';
    this.note.setAttribute('aria-label', 'Feed note');
    this.note.addEventListener('input', () => {
      this.noteStatus.textContent = this.note.value === this.savedNote ? '' : 'not saved';
    });
    this.commentInput.rows = 2;
    this.commentInput.placeholder = 'Add a comment';
    this.commentInput.setAttribute('aria-label', 'New comment');
    this.id = 'chris-lab-feeds';
    this.addClass('chris-lab-feeds');
    this.title.label = 'ChRIS feeds';
    this.title.caption = 'ChRIS feeds and jobs';
    this.title.closable = true;
    const side = el('div', 'chris-lab-feeds-side');
    const bar = el('div', 'chris-lab-toolbar');
    bar.append(
      el('span', 'chris-lab-heading', 'Feeds'),
      button(refreshIcon, 'Reload the feeds', 'chris-lab-refresh', () => void this.refresh())
    );
    this.search.type = 'search';
    this.search.placeholder = 'Search feeds by name';
    this.search.setAttribute('aria-label', 'Search feeds');
    this.search.addEventListener('input', () => {
      window.clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => void this.loadFeeds(), 250);
    });
    side.append(bar, this.search, this.feedList);
    const main = el('div', 'chris-lab-feeds-main');
    this.graph.setAttribute('role', 'tree');
    this.graph.setAttribute('aria-label', 'Plugin instances of the feed');
    main.append(this.errorBox.node, this.header, this.graph, this.details);
    this.node.append(side, main);
  }

  async start(): Promise<void> {
    this.listen();
    await this.loadFeeds();
  }

  async refresh(): Promise<void> {
    this.hideError();
    await this.loadFeeds();
    if (this.feedId !== null) {
      await this.showFeed(this.feedId, this.instanceId);
    }
  }

  dispose(): void {
    this.source?.close();
    super.dispose();
  }

  showError(message: string): void {
    this.errorBox.show(message);
  }

  hideError(): void {
    this.errorBox.hide();
  }

  private listen(): void {
    this.source = this.options.events ? this.options.events(FEED_EVENTS) : null;
    if (!this.source) {
      return;
    }
    const onState = (ev: MessageEvent) => {
      let data: IInstance;
      try {
        data = JSON.parse(ev.data).data;
      } catch {
        return;
      }
      if (!data || typeof data.id !== 'number') {
        return;
      }
      if (!this.feeds.some(f => f.id === data.feed_id)) {
        void this.loadFeeds(); // a new feed (an fs run) appears without a click
      }
      if (data.feed_id === this.feedId && mergeInstance(this.instances, data)) {
        this.drawGraph();
        if (data.id === this.instanceId) {
          void this.drawDetails();
        }
      }
    };
    const feedOf = (ev: MessageEvent): number | null => {
      try {
        const id = JSON.parse(ev.data).data?.feed_id;
        return typeof id === 'number' ? id : null;
      } catch {
        return null;
      }
    };
    const onFeed = (ev: MessageEvent) => {
      void this.loadFeeds();
      if (ev.type === 'feed.updated' && this.feedId !== null && feedOf(ev) === this.feedId) {
        void this.reloadNote(this.feedId);
      }
    };
    const onComment = (ev: MessageEvent) => {
      if (this.feedId !== null && feedOf(ev) === this.feedId) {
        void this.loadComments(this.feedId);
      }
    };
    this.source.addEventListener('plugin_instance.state', onState as EventListener);
    for (const t of ['feed.created', 'feed.updated', 'feed.deleted']) {
      this.source.addEventListener(t, onFeed as EventListener);
    }
    this.source.addEventListener('feed.comment', onComment as EventListener);
    // a feed shared with this user (or no longer) comes into the list, or leaves it, without a click
    const onShare = (ev: MessageEvent) => {
      if (feedOf(ev) !== null) {
        void this.loadFeeds();
      }
    };
    for (const t of ['share.created', 'share.deleted']) {
      this.source.addEventListener(t, onShare as EventListener);
    }
  }

  async loadFeeds(): Promise<void> {
    try {
      this.feeds = (await this.options.compute.feeds(this.search.value.trim(), 0, 200)).items;
    } catch (e) {
      this.showError(`cannot list the feeds: ${(e as Error).message}`);
      return;
    }
    this.drawFeeds();
  }

  private drawFeeds(): void {
    this.feedList.replaceChildren();
    if (!this.feeds.length) {
      this.feedList.append(el('div', 'chris-lab-empty', this.search.value ? 'No feed matches' : 'No feeds yet'));
    }
    for (const f of this.feeds) {
      const item = el('div', 'chris-lab-feed');
      item.dataset.feedId = String(f.id);
      item.tabIndex = 0;
      item.setAttribute('role', 'button');
      if (f.id === this.feedId) {
        item.classList.add('chris-lab-selected');
      }
      item.append(el('div', 'chris-lab-feed-name', f.name || `feed ${f.id}`));
      const meta = el('div', 'chris-lab-feed-meta', `#${f.id} · ${f.owner} · ${(f.created_at || '').slice(0, 10)}`);
      item.append(meta);
      if (f.tags?.length) {
        const tags = el('div', 'chris-lab-tags');
        for (const t of f.tags) {
          tags.append(el('span', 'chris-lab-tag', t));
        }
        item.append(tags);
      }
      const open = () => void this.showFeed(f.id);
      item.addEventListener('click', open);
      item.addEventListener('keydown', ev => {
        if (ev.key === 'Enter') {
          open();
        }
      });
      this.feedList.append(item);
    }
  }

  /** Show a feed's graph (and choose one of its instances). */
  async showFeed(feedId: number, instanceId: number | null = null): Promise<void> {
    const changed = feedId !== this.feedId;
    this.feedId = feedId;
    if (changed) {
      this.instances = new Map();
      this.instanceId = null;
    }
    if (instanceId !== null) {
      this.instanceId = instanceId;
    }
    this.drawFeeds();
    let feed: IFeed | undefined = this.feeds.find(f => f.id === feedId);
    try {
      if (!feed) {
        feed = await this.options.api.request<IFeed>('GET', `feeds/${feedId}`);
      }
      const page = await this.options.compute.instances(feedId);
      for (const i of page.items) {
        mergeInstance(this.instances, i);
      }
      if (this.instanceId === null && this.instances.size) {
        // nothing chosen yet: the latest instance (a one-job feed's only one, a chain's last step)
        this.instanceId = Math.max(...this.instances.keys());
      }
    } catch (e) {
      this.showError(`cannot show feed ${feedId}: ${(e as Error).message}`);
      this.header.replaceChildren();
      delete this.header.dataset.feedId;
      this.graph.replaceChildren();
      this.details.replaceChildren();
      return;
    }
    this.drawHeader(feed!);
    void this.loadComments(feedId);
    this.drawGraph();
    await this.drawDetails();
  }

  /** The feed's name, its note (editable: Save sends it) and its comments with a box to add one. */
  private drawHeader(feed: IFeed): void {
    const changed = this.header.dataset.feedId !== String(feed.id);
    this.header.dataset.feedId = String(feed.id);
    const incoming = feed.note || '';
    if (changed) {
      this.note.value = incoming;
      this.noteStatus.textContent = '';
    } else if (this.note.value === this.savedNote && incoming !== this.note.value) {
      // changed elsewhere and not being edited here: show it (the status of a save stays as it was)
      this.note.value = incoming;
      this.noteStatus.textContent = 'changed elsewhere';
    }
    this.savedNote = incoming;
    if (!changed) {
      (this.header.querySelector('.chris-lab-feed-title') as HTMLElement).textContent = feed.name || `feed ${feed.id}`;
      return;
    }
    this.commentInput.value = '';
    this.comments.replaceChildren();
    const noteBar = el('div', 'chris-lab-feed-note-bar');
    noteBar.append(
      button('Save note', 'Save the note of this feed', 'chris-lab-feed-note-save', () => void this.saveNote(feed.id)),
      this.noteStatus
    );
    const add = button(
      'Comment',
      'Add this comment to the feed',
      'chris-lab-comment-add',
      () => void this.addComment(feed.id)
    );
    const comments = el('details', 'chris-lab-feed-comments');
    comments.open = true;
    comments.append(el('summary', 'chris-lab-subheading', 'Comments'), this.comments, this.commentInput, add);
    const titleBar = el('div', 'chris-lab-feed-title-bar');
    titleBar.append(
      el('div', 'chris-lab-feed-title', feed.name || `feed ${feed.id}`),
      button(
        'Share…',
        'Share this feed (its jobs and their outputs) with a user, a group, everyone or a private link',
        'chris-lab-feed-share',
        () => void openShareDialog(this.social, { feedId: feed.id, name: feed.name })
      )
    );
    this.header.replaceChildren(titleBar, this.note, noteBar, comments);
  }

  private async saveNote(feedId: number): Promise<void> {
    const text = this.note.value;
    try {
      const feed = await this.social.setNote(feedId, text);
      this.savedNote = feed.note;
      this.feeds = this.feeds.map(f => (f.id === feed.id ? { ...f, note: feed.note } : f));
      this.noteStatus.textContent = this.note.value === this.savedNote ? 'saved' : 'not saved';
      this.hideError();
    } catch (e) {
      this.showError(`cannot save the note of feed ${feedId}: ${(e as Error).message}`);
    }
  }

  /** Another client changed the feed: show its note unless one is being edited here. */
  private async reloadNote(feedId: number): Promise<void> {
    try {
      const feed = await this.options.api.request<IFeed>('GET', `feeds/${feedId}`);
      if (this.feedId === feedId) {
        this.drawHeader(feed);
      }
    } catch {
      // the feed may be gone: the list (reloaded by the same event) says so
    }
  }

  async loadComments(feedId: number): Promise<void> {
    let items: IComment[];
    try {
      items = (await this.social.comments(feedId)).items;
    } catch (e) {
      this.showError(`cannot list the comments of feed ${feedId}: ${(e as Error).message}`);
      return;
    }
    if (this.feedId !== feedId) {
      return;
    }
    const rows = items.map(c => {
      const li = el('li', 'chris-lab-comment');
      li.dataset.commentId = String(c.id);
      li.append(
        el('div', 'chris-lab-comment-meta', `${c.author} · ${(c.created_at || '').slice(0, 16).replace('T', ' ')}`),
        ...(c.title ? [el('div', 'chris-lab-comment-title', c.title)] : []),
        el('div', 'chris-lab-comment-text', c.content)
      );
      return li;
    });
    if (!rows.length) {
      rows.push(el('li', 'chris-lab-empty', 'No comments yet'));
    }
    this.comments.replaceChildren(...rows);
  }

  private async addComment(feedId: number): Promise<void> {
    const text = this.commentInput.value;
    if (!text.trim()) {
      this.showError('write a comment first');
      return;
    }
    try {
      await this.social.comment(feedId, text);
      this.commentInput.value = '';
      this.hideError();
    } catch (e) {
      this.showError(`cannot add the comment: ${(e as Error).message}`);
      return;
    }
    await this.loadComments(feedId);
  }

  private drawGraph(): void {
    const layout: IDagLayout = layoutDag(this.instances.values());
    const width = Math.max(1, layout.columns) * (NODE_W + GAP_X) + GAP_X;
    const height = Math.max(1, layout.depth) * (NODE_H + GAP_Y) + GAP_Y;
    const root = svg('svg', { width, height, class: 'chris-lab-dag', viewBox: `0 0 ${width} ${height}` });
    const pos = new Map<number, [number, number]>();
    for (const n of layout.nodes) {
      pos.set(n.instance.id, [GAP_X + n.column * (NODE_W + GAP_X), GAP_Y / 2 + n.depth * (NODE_H + GAP_Y)]);
    }
    for (const [a, b] of layout.edges) {
      const [x1, y1] = pos.get(a)!;
      const [x2, y2] = pos.get(b)!;
      root.append(
        svg('path', {
          class: 'chris-lab-edge',
          d: `M${x1 + NODE_W / 2},${y1 + NODE_H} C${x1 + NODE_W / 2},${y1 + NODE_H + GAP_Y / 2} ${x2 + NODE_W / 2},${y2 - GAP_Y / 2} ${x2 + NODE_W / 2},${y2}`
        })
      );
    }
    for (const n of layout.nodes) {
      const i = n.instance;
      const [x, y] = pos.get(i.id)!;
      const g = svg('g', {
        class: `chris-lab-node chris-lab-state-${stateGroup(i.state)}${i.id === this.instanceId ? ' chris-lab-selected' : ''}`,
        transform: `translate(${x},${y})`,
        tabindex: 0,
        role: 'treeitem',
        'data-id': i.id,
        'data-state': i.state,
        'aria-label': `${nodeLabel(i)}: ${i.state}`
      });
      g.append(svg('rect', { width: NODE_W, height: NODE_H, rx: 6 }));
      const label = svg('text', { x: 8, y: 16, class: 'chris-lab-node-label' });
      const short = `${i.plugin ?? 'plugin'} #${i.id}`; // the title is in the tooltip and details
      label.textContent = short.length > 26 ? `${short.slice(0, 25)}…` : short;
      const state = svg('text', { x: 8, y: 32, class: 'chris-lab-node-state' });
      state.textContent = i.state;
      const tip = svg('title', {});
      tip.textContent = `${nodeLabel(i)}: ${i.state}${i.error ? ` — ${i.error}` : ''}`;
      g.append(tip, label, state);
      const choose = () => {
        this.instanceId = i.id;
        this.drawGraph();
        void this.drawDetails();
      };
      g.addEventListener('click', choose);
      g.addEventListener('keydown', ev => {
        if ((ev as KeyboardEvent).key === 'Enter') {
          choose();
        }
      });
      root.append(g);
    }
    this.graph.replaceChildren(root);
    if (!layout.nodes.length && this.feedId !== null) {
      this.graph.append(el('div', 'chris-lab-empty', 'No plugin instances in this feed'));
    }
  }

  private async drawDetails(): Promise<void> {
    const inst = this.instanceId !== null ? this.instances.get(this.instanceId) : undefined;
    const box = this.details;
    if (!inst) {
      box.replaceChildren(
        el('div', 'chris-lab-empty', this.feedId === null ? 'Choose a feed' : 'Choose an instance in the graph')
      );
      return;
    }
    const id = inst.id;
    const head = el('div', 'chris-lab-details-head');
    head.append(
      el('span', 'chris-lab-details-title', nodeLabel(inst)),
      el('span', `chris-lab-badge chris-lab-state-${stateGroup(inst.state)} chris-lab-details-state`, inst.state)
    );
    if (!isFinal(inst.state)) {
      head.append(
        button('Cancel', 'Cancel this job (and the jobs after it)', 'chris-lab-cancel', () => void this.cancel(inst))
      );
    }
    head.append(
      button('Re-run…', 'Run this plugin again with these parameters (changed in the form)', 'chris-lab-rerun', () =>
        this.options.rerun(inst)
      )
    );
    const parts: HTMLElement[] = [head];
    if (inst.error) {
      parts.push(el('div', 'chris-lab-job-error', inst.error));
    }
    const params = el('table', 'chris-lab-params');
    const rows: [string, unknown][] = [
      ...Object.entries(inst.params ?? {}),
      ...Object.entries(inst.resources ?? {}).map(([k, v]) => [`resources.${k}`, v] as [string, unknown])
    ];
    if (inst.exit_code !== null && inst.exit_code !== undefined) {
      rows.push(['exit code', inst.exit_code]);
    }
    for (const [k, v] of rows) {
      const tr = el('tr');
      tr.append(el('th', '', k), el('td', '', typeof v === 'string' ? v : JSON.stringify(v)));
      params.append(tr);
    }
    parts.push(el('div', 'chris-lab-subheading', 'Parameters'), params);
    const outputs = el('div', 'chris-lab-outputs');
    parts.push(el('div', 'chris-lab-subheading', `Outputs (${inst.output_count})`), outputs);
    const logs = el('pre', 'chris-lab-logs');
    parts.push(el('div', 'chris-lab-subheading', 'Log'), logs);
    box.replaceChildren(...parts);

    const [logText, files] = await Promise.all([
      this.options.compute.logs(id).catch(e => `(cannot read the log: ${(e as Error).message})`),
      inst.output_count > 0 || isFinal(inst.state)
        ? this.options.api.list(inst.output_path, 0, 200).then(
            p => p.items,
            e => (e as Error).message
          )
        : Promise.resolve([] as IEntry[])
    ]);
    if (this.instanceId !== id) {
      return; // another instance was chosen meanwhile
    }
    logs.textContent = logText || '(empty)';
    if (typeof files === 'string') {
      outputs.append(el('div', 'chris-lab-empty', `cannot list the outputs: ${files}`));
    } else {
      await this.drawOutputs(outputs, inst.output_path, files);
    }
  }

  private async drawOutputs(box: HTMLElement, folder: string, files: IEntry[]): Promise<void> {
    if (!files.length) {
      box.append(el('div', 'chris-lab-empty', 'none yet'));
      return;
    }
    const self: IEntry = {
      path: folder,
      name: 'data',
      kind: 'folder',
      size: 0,
      owner: null,
      created_at: null,
      content_type: null
    };
    const whole = viewerVolumeId(self, files);
    if (whole) {
      box.append(this.outputRow(self, whole, 'all outputs (a series)'));
    }
    for (const f of files) {
      let vid = viewerVolumeId(f);
      if (!vid && f.kind === 'folder') {
        try {
          vid = viewerVolumeId(f, (await this.options.api.list(f.path, 0, 20)).items);
        } catch {
          vid = null;
        }
      }
      box.append(this.outputRow(f, vid));
    }
  }

  private outputRow(e: IEntry, volumeId: string | null, label = ''): HTMLElement {
    const row = el('div', 'chris-lab-output');
    row.dataset.path = e.path;
    row.append(el('span', 'chris-lab-output-name', label || (e.kind === 'folder' ? `${e.name}/` : e.name)));
    if (volumeId) {
      row.append(
        button('Open in viewer', `Open ${e.name} in the ChRIS viewer`, 'chris-lab-view', () =>
          this.options.openViewer(volumeId, e.name)
        )
      );
    }
    const link = el('a', 'chris-lab-btn chris-lab-download', 'Download');
    link.href = this.options.api.downloadUrl(e);
    link.setAttribute('download', '');
    row.append(link);
    return row;
  }

  private async cancel(inst: IInstance): Promise<void> {
    try {
      await this.options.compute.cancel(inst.id);
    } catch (e) {
      this.showError(`cannot cancel ${nodeLabel(inst)}: ${(e as Error).message}`);
    }
  }
}
