/**
 * The Library panel (left sidebar): the caller's library as a lazily loaded, virtualised tree,
 * with upload (drop or picker, per-file progress and cancel), download, rename, delete, share
 * (the Share dialog) and "open in viewer"; below it, what others shared with the caller (live, from
 * the `share.created` and `share.deleted` events), each opened as the tree's root. Every refusal of the server is shown
 * in the panel with its message.
 */

import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import {
  LabIcon,
  closeIcon,
  deleteIcon,
  downloadIcon,
  editIcon,
  fileUploadIcon,
  folderIcon,
  homeIcon,
  imageIcon,
  newFolderIcon,
  refreshIcon,
  shareIcon
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { ChrisApi, ChrisShareApi, IEntry, IShare, checkName, humanSize, parentPath, viewerVolumeId } from './api';
import { receivedShares } from './share';
import { openShareDialog } from './share-dialog';
import { INode, LibraryTree, Row, visibleRange } from './tree';
import { IUploadItem, UploadQueue, droppedFiles, percent, pickedFiles } from './upload';

export const ROW_HEIGHT = 26;
const FILE_EVENTS = ['file.created', 'file.moved', 'file.deleted', 'folder.created', 'files.registered'];
const SHARE_EVENTS = ['share.created', 'share.deleted'];

export interface ILibraryPanelOptions {
  api: ChrisApi;
  /** Opens the viewer tab for a volume id. */
  openViewer(volumeId: string, label: string): void;
  /** Opens the server's event stream (null: no live updates). */
  events?(types: string[]): EventSource | null;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) {
    e.className = cls;
  }
  if (text) {
    e.textContent = text;
  }
  return e;
}

export function button(label: string | LabIcon, title: string, cls: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', `chris-lab-btn ${cls}`, typeof label === 'string' ? label : '');
  if (typeof label !== 'string') {
    b.appendChild(label.element({ tag: 'span', className: 'chris-lab-icon' }));
  }
  b.type = 'button';
  b.title = title;
  b.setAttribute('aria-label', title);
  b.addEventListener('click', ev => {
    ev.stopPropagation();
    onClick();
  });
  return b;
}

export class LibraryPanel extends Widget {
  readonly api: ChrisApi;
  readonly shares: ChrisShareApi;
  tree: LibraryTree | null = null;
  username = '';
  readonly uploads: UploadQueue;
  home = '';
  private rows: Row[] = [];
  private selected: string | null = null;
  private errorBox = el('div', 'chris-lab-error');
  private pathBox = el('div', 'chris-lab-path');
  private scroller = el('div', 'chris-lab-scroller');
  private spacer = el('div', 'chris-lab-spacer');
  private rowsBox = el('div', 'chris-lab-rows');
  private uploadBox = el('div', 'chris-lab-uploads');
  private sharedBox = el('div', 'chris-lab-shared');
  private fileInput = el('input');
  private folderInput = el('input');
  private frame = 0;
  /** The tree changed since the rows were flattened (anything but a scroll). */
  private stale = true;
  /** The rows drawn last, by index (reused while they stay in view and nothing else changed). */
  private drawn = new Map<number, HTMLElement>();
  private source: EventSource | null = null;

  constructor(private options: ILibraryPanelOptions) {
    super();
    this.api = options.api;
    this.shares = new ChrisShareApi(options.api);
    this.id = 'chris-library';
    this.addClass('chris-lab-library');
    this.title.caption = 'ChRIS library';
    this.uploads = new UploadQueue(
      (dest, file, onProgress, signal, overwrite) => this.api.upload(dest, file, onProgress, signal, overwrite),
      () => this.drawUploads(),
      item => this.uploaded(item)
    );
    this.build();
  }

  private build(): void {
    const bar = el('div', 'chris-lab-toolbar');
    bar.append(
      el('span', 'chris-lab-heading', 'ChRIS library'),
      button(refreshIcon, 'Refresh', 'chris-lab-refresh', () => void this.refresh()),
      button(newFolderIcon, 'New folder', 'chris-lab-mkdir', () => void this.newFolder()),
      button(fileUploadIcon, 'Upload files', 'chris-lab-upload', () => this.fileInput.click()),
      button(folderIcon, 'Upload a folder', 'chris-lab-upload-folder', () => this.folderInput.click()),
      button(shareIcon, 'Share the selected file or folder…', 'chris-lab-share-selected', () => void this.share())
    );
    for (const input of [this.fileInput, this.folderInput]) {
      input.type = 'file';
      input.multiple = true;
      input.hidden = true;
      input.addEventListener('change', () => {
        this.uploads.add(this.targetFolder(), pickedFiles(input.files));
        input.value = '';
      });
    }
    this.fileInput.className = 'chris-lab-file-input';
    this.folderInput.className = 'chris-lab-folder-input';
    this.folderInput.setAttribute('webkitdirectory', '');
    this.errorBox.setAttribute('role', 'alert');
    this.errorBox.hidden = true;
    this.scroller.tabIndex = 0;
    this.scroller.setAttribute('role', 'tree');
    this.scroller.setAttribute('aria-label', 'library');
    this.scroller.append(this.spacer, this.rowsBox);
    this.scroller.addEventListener('scroll', () => this.schedule(true));
    this.scroller.addEventListener('keydown', ev => this.onKey(ev));
    this.sharedBox.hidden = true;
    this.node.append(
      bar,
      this.pathBox,
      this.errorBox,
      this.scroller,
      this.sharedBox,
      this.uploadBox,
      this.fileInput,
      this.folderInput
    );
    this.node.addEventListener('dragover', ev => {
      ev.preventDefault();
      this.node.classList.add('chris-lab-dragging');
    });
    this.node.addEventListener('dragleave', () => this.node.classList.remove('chris-lab-dragging'));
    this.node.addEventListener('drop', ev => void this.onDrop(ev));
  }

  /** Start: who am I, then the home folder's first page, then live updates. */
  async start(): Promise<void> {
    try {
      const me = await this.api.me();
      this.username = me.username;
      this.home = `home/${me.username}`;
    } catch (e) {
      this.showError(`cannot open the library: ${(e as Error).message}`);
      return;
    }
    await this.openRoot(this.home);
    this.listen();
    await this.loadShared();
  }

  /** Show the tree from another folder (home, or a folder shared with the caller). */
  async openRoot(path: string): Promise<void> {
    this.pathBox.replaceChildren(el('span', 'chris-lab-path-text', path));
    if (path !== this.home) {
      this.pathBox.append(
        button(homeIcon, 'Back to my home folder', 'chris-lab-home', () => void this.openRoot(this.home))
      );
    }
    this.selected = null;
    this.scroller.scrollTop = 0;
    this.tree = new LibraryTree(
      (p, o, l) => this.api.list(p, o, l),
      path,
      () => this.schedule()
    );
    await this.tree.load(this.tree.root);
    if (this.tree.root.error) {
      this.showError(this.tree.root.error);
    }
  }

  /** What others shared with the caller: a list under the tree; a click opens one as the root. */
  async loadShared(): Promise<void> {
    let received: IShare[];
    try {
      received = receivedShares((await this.shares.shares()).items, this.username);
    } catch (e) {
      this.showError(`cannot list what is shared with you: ${(e as Error).message}`);
      return;
    }
    this.sharedBox.hidden = received.length === 0;
    const items = received.map(s => {
      const path = s.path!;
      const item = el('button', 'chris-lab-btn chris-lab-shared-item');
      item.type = 'button';
      item.dataset.path = path;
      item.title = `${path} (${s.permission}, shared by ${s.created_by ?? '?'}): open it here`;
      item.append(
        el('span', 'chris-lab-shared-name', path.split('/').pop() || path),
        el('span', 'chris-lab-meta', `${s.created_by ?? ''} · ${s.permission}`)
      );
      item.addEventListener('click', () => void this.openRoot(path));
      return item;
    });
    this.sharedBox.replaceChildren(el('div', 'chris-lab-uploads-head', 'Shared with me'), ...items);
  }

  /** Open the Share dialog for an entry (default: the selected one). */
  async share(path: string | null = this.selected): Promise<void> {
    if (!path) {
      this.showError('select a file or folder to share first');
      return;
    }
    this.hideError();
    await openShareDialog(this.shares, path);
  }

  private listen(): void {
    this.source = this.options.events ? this.options.events([...FILE_EVENTS, ...SHARE_EVENTS]) : null;
    if (!this.source) {
      return;
    }
    const onEvent = (ev: MessageEvent) => {
      try {
        const data = JSON.parse(ev.data).data || {};
        for (const p of [data.path, data.src, data.dst]) {
          if (typeof p === 'string') {
            void this.tree?.refreshFolder(parentPath(p));
            void this.tree?.refreshFolder(p);
          }
        }
      } catch {
        // a malformed event: ignore it, the next refresh shows the truth
      }
    };
    for (const t of FILE_EVENTS) {
      this.source.addEventListener(t, onEvent as EventListener);
    }
    for (const t of SHARE_EVENTS) {
      this.source.addEventListener(t, () => void this.loadShared());
    }
  }

  dispose(): void {
    this.source?.close();
    super.dispose();
  }

  async refresh(): Promise<void> {
    this.hideError();
    if (!this.tree) {
      await this.start();
      return;
    }
    await this.tree.refreshFolder(this.tree.root.entry.path);
    await this.loadShared();
  }

  showError(message: string): void {
    this.errorBox.replaceChildren(
      el('span', 'chris-lab-error-text', message),
      button(closeIcon, 'Dismiss', 'chris-lab-dismiss', () => this.hideError())
    );
    this.errorBox.hidden = false;
  }

  hideError(): void {
    this.errorBox.hidden = true;
    this.errorBox.replaceChildren();
  }

  /** The library path selected in the panel (what "use the library's selection" takes), or null. */
  get selectedPath(): string | null {
    return this.selected;
  }

  /** Where an upload goes: the selected folder (or a selected file's folder), else home. */
  targetFolder(): string {
    const node = this.selected && this.tree ? this.tree.find(this.selected) : null;
    if (!node) {
      return this.tree ? this.tree.root.entry.path : this.home;
    }
    return node.entry.kind === 'folder' ? node.entry.path : parentPath(node.entry.path);
  }

  private async onDrop(ev: DragEvent): Promise<void> {
    ev.preventDefault();
    this.node.classList.remove('chris-lab-dragging');
    if (!ev.dataTransfer) {
      return;
    }
    const rowEl = (ev.target as HTMLElement).closest?.('.chris-lab-row') as HTMLElement | null;
    let folder = this.targetFolder();
    if (rowEl && rowEl.dataset.path) {
      const node = this.tree?.find(rowEl.dataset.path);
      if (node) {
        folder = node.entry.kind === 'folder' ? node.entry.path : parentPath(node.entry.path);
      }
    }
    const files = await droppedFiles(ev.dataTransfer);
    if (files.length) {
      this.uploads.add(folder, files);
    }
  }

  private uploaded(item: IUploadItem): void {
    if (item.state === 'error') {
      this.showError(`upload of ${item.dest} failed: ${item.error}`);
    }
    this.askIfConflicts();
    if (item.state === 'done' && this.tree) {
      // show the new file: reload the nearest loaded folder above it
      let p = parentPath(item.dest);
      while (p && !this.tree.find(p)) {
        p = parentPath(p);
      }
      void this.tree.refreshFolder(p || this.tree.root.entry.path);
    }
  }

  private askingReplace = false;

  private askIfConflicts(): void {
    if (this.uploads.active === 0 && this.uploads.conflicts.length && !this.askingReplace) {
      void this.askReplace();
    }
  }

  /** Once a batch has settled: one question for all the files the library already has. */
  private async askReplace(): Promise<void> {
    this.askingReplace = true;
    try {
      const conflicts = this.uploads.conflicts;
      const names = conflicts.map(i => i.dest);
      const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? `, and ${names.length - 5} more` : '');
      const one = conflicts.length === 1;
      const result = await showDialog({
        title: one ? 'Replace the existing file?' : `Replace ${conflicts.length} existing files?`,
        body: `${one ? 'This file is' : 'These files are'} already in the library: ${shown}.`,
        buttons: [Dialog.cancelButton({ label: 'Keep existing' }), Dialog.warnButton({ label: 'Replace' })]
      });
      const ids = conflicts.map(i => i.id);
      if (result.button.accept) {
        this.uploads.replace(ids);
      } else {
        this.uploads.keepExisting(ids);
      }
    } finally {
      this.askingReplace = false;
      this.askIfConflicts(); // a batch that settled while the dialog was open
    }
  }

  private drawUploads(): void {
    const items = this.uploads.items;
    this.uploadBox.hidden = items.length === 0;
    const list = items.map(item => {
      const row = el('div', `chris-lab-upload-item chris-lab-upload-${item.state}`);
      row.dataset.dest = item.dest;
      row.dataset.state = item.state;
      const bar = el('progress', 'chris-lab-progress');
      bar.max = 100;
      bar.value = percent(item);
      const name = item.dest.split('/').pop() || '';
      const label =
        item.state === 'error'
          ? `${item.dest}: ${item.error}`
          : item.state === 'conflict'
            ? `${name}: already in the library`
            : item.state === 'skipped'
              ? `${name}: kept the existing file`
              : name;
      row.append(el('span', 'chris-lab-upload-name', label), bar, el('span', 'chris-lab-upload-state', item.state));
      if (item.state === 'queued' || item.state === 'uploading') {
        row.append(
          button(closeIcon, `Cancel the upload of ${item.dest}`, 'chris-lab-cancel', () => this.uploads.cancel(item.id))
        );
      }
      return row;
    });
    const head = el('div', 'chris-lab-uploads-head', `Uploads (${this.uploads.active} in progress)`);
    if (items.length > this.uploads.active) {
      head.append(button('clear', 'Clear finished uploads', 'chris-lab-clear', () => this.uploads.clearFinished()));
    }
    this.uploadBox.replaceChildren(head, ...list);
  }

  /** Redraw at the next animation frame (many changes, one draw). ``scrolledOnly``: nothing but
   * the scroll position changed, so the flattened rows and the rows already drawn still hold. */
  schedule(scrolledOnly = false): void {
    if (!scrolledOnly) {
      this.stale = true;
    }
    if (this.frame) {
      return;
    }
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  /** Draw only the rows in view, absolutely placed inside a spacer as tall as all rows. A scroll
   * alone re-flattens nothing (100,000 rows a frame would cost more than the frame) and keeps the
   * rows still in view; only those coming into view are made. */
  draw(): void {
    if (!this.tree) {
      return;
    }
    if (this.stale || !this.rows.length) {
      this.stale = false;
      this.rows = this.tree.rows();
      this.drawn.clear();
    }
    this.spacer.style.height = `${this.rows.length * ROW_HEIGHT}px`;
    const [start, end] = visibleRange(
      this.scroller.scrollTop,
      this.scroller.clientHeight || 600,
      ROW_HEIGHT,
      this.rows.length
    );
    const out: HTMLElement[] = [];
    if (!this.rows.length) {
      const root = this.tree.root;
      out.push(el('div', 'chris-lab-empty', root.loading ? 'loading…' : root.error ? '' : 'this folder is empty'));
    }
    const drawn = new Map<number, HTMLElement>();
    for (let i = start; i < end; i++) {
      const div = this.drawn.get(i) ?? this.drawRow(this.rows[i], i);
      drawn.set(i, div);
      out.push(div);
    }
    this.drawn = drawn;
    this.rowsBox.replaceChildren(...out);
  }

  private drawRow(row: Row, index: number): HTMLElement {
    if (row.kind === 'more') {
      const div = el('div', 'chris-lab-row chris-lab-more');
      div.style.top = `${index * ROW_HEIGHT}px`;
      div.style.paddingLeft = `${(row.parent.depth + 1) * 14 + 6}px`;
      div.textContent = row.parent.loading ? 'loading…' : `${row.loaded} of ${row.total} shown — load more`;
      div.addEventListener('click', () => void this.tree?.loadMore(row.parent));
      // scrolling to the end loads the next page by itself
      if (!row.parent.loading) {
        void this.tree?.loadMore(row.parent);
      }
      return div;
    }
    const node = row.node;
    const e = node.entry;
    const div = el('div', `chris-lab-row chris-lab-${e.kind}`);
    div.setAttribute('role', 'treeitem');
    div.dataset.path = e.path;
    div.style.top = `${index * ROW_HEIGHT}px`;
    div.style.paddingLeft = `${node.depth * 14 + 4}px`;
    if (this.selected === e.path) {
      div.classList.add('chris-lab-selected');
      div.setAttribute('aria-selected', 'true');
    }
    const toggle = el(
      'span',
      'chris-lab-toggle',
      e.kind === 'folder' ? (node.loading ? '…' : node.expanded ? '▾' : '▸') : ''
    );
    const name = el('span', 'chris-lab-name', e.name);
    name.title = e.path;
    const meta = el('span', 'chris-lab-meta', e.kind === 'file' ? humanSize(e.size) : node.error ? '⚠' : '');
    if (node.error) {
      meta.title = node.error;
    }
    div.append(toggle, name, meta);
    const actions = el('span', 'chris-lab-actions');
    const volume = viewerVolumeId(
      e,
      node.children?.map(c => c.entry)
    );
    if (volume) {
      actions.append(
        button(imageIcon, `Open ${e.name} in the viewer`, 'chris-lab-view', () =>
          this.options.openViewer(volume, e.name)
        )
      );
    }
    actions.append(
      button(
        downloadIcon,
        e.kind === 'folder' ? `Download ${e.name} as a zip` : `Download ${e.name}`,
        'chris-lab-download',
        () => this.download(e)
      ),
      button(shareIcon, `Share ${e.name}…`, 'chris-lab-share', () => {
        this.selected = e.path;
        void this.share(e.path);
      }),
      button(editIcon, `Rename ${e.name}`, 'chris-lab-rename', () => void this.rename(e)),
      button(deleteIcon, `Delete ${e.name}`, 'chris-lab-delete', () => void this.remove(e))
    );
    div.append(actions);
    div.addEventListener('click', () => {
      this.selected = e.path;
      if (e.kind === 'folder') {
        void this.tree?.toggle(node);
      } else {
        this.schedule();
      }
    });
    div.addEventListener('contextmenu', () => {
      this.selected = e.path; // the context menu's "Share…" acts on this row
      this.schedule();
    });
    div.addEventListener('dblclick', () => {
      if (volume) {
        this.options.openViewer(volume, e.name);
      }
    });
    return div;
  }

  private onKey(ev: KeyboardEvent): void {
    const entries = this.rows.filter(r => r.kind === 'entry') as { kind: 'entry'; node: INode }[];
    if (!entries.length) {
      return;
    }
    let i = entries.findIndex(r => r.node.entry.path === this.selected);
    const node = i >= 0 ? entries[i].node : null;
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      i = Math.max(0, Math.min(entries.length - 1, i + (ev.key === 'ArrowDown' ? 1 : -1)));
      this.selected = entries[i].node.entry.path;
      const index = this.rows.indexOf(entries[i]);
      const top = index * ROW_HEIGHT;
      if (top < this.scroller.scrollTop || top + ROW_HEIGHT > this.scroller.scrollTop + this.scroller.clientHeight) {
        this.scroller.scrollTop = top - this.scroller.clientHeight / 2;
      }
      this.schedule();
    } else if ((ev.key === 'Enter' || ev.key === ' ') && node) {
      if (node.entry.kind === 'folder') {
        void this.tree?.toggle(node);
      } else {
        const volume = viewerVolumeId(node.entry);
        if (volume) {
          this.options.openViewer(volume, node.entry.name);
        }
      }
    } else if (ev.key === 'Delete' && node) {
      void this.remove(node.entry);
    } else if (ev.key === 'F2' && node) {
      void this.rename(node.entry);
    } else if ((ev.key === 's' || ev.key === 'S') && !ev.ctrlKey && !ev.metaKey && !ev.altKey && node) {
      void this.share(node.entry.path);
    } else {
      return;
    }
    ev.preventDefault();
  }

  download(e: IEntry): void {
    const a = el('a');
    a.href = this.api.downloadUrl(e);
    a.download = e.kind === 'folder' ? `${e.name}.zip` : e.name;
    a.rel = 'noopener';
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  async rename(e: IEntry): Promise<void> {
    const result = await InputDialog.getText({ title: `Rename ${e.path}`, text: e.name, okLabel: 'Rename' });
    if (!result.button.accept || result.value === null || result.value === e.name) {
      return;
    }
    const problem = checkName(result.value);
    if (problem) {
      this.showError(`cannot rename ${e.name}: ${problem}`);
      return;
    }
    const parent = parentPath(e.path);
    try {
      await this.api.move(e.path, `${parent}/${result.value.trim()}`);
      this.hideError();
    } catch (err) {
      this.showError(`cannot rename ${e.name}: ${(err as Error).message}`);
    }
    await this.tree?.refreshFolder(parent);
  }

  async remove(e: IEntry): Promise<void> {
    const what = e.kind === 'folder' ? `the folder ${e.path} and everything in it` : e.path;
    const result = await showDialog({
      title: 'Delete',
      body: `Delete ${what}? This cannot be undone.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!result.button.accept) {
      return;
    }
    try {
      await this.api.remove(e.path);
      this.hideError();
      if (this.selected === e.path) {
        this.selected = null;
      }
    } catch (err) {
      this.showError(`cannot delete ${e.name}: ${(err as Error).message}`);
    }
    await this.tree?.refreshFolder(parentPath(e.path));
  }

  async newFolder(): Promise<void> {
    const where = this.targetFolder();
    const result = await InputDialog.getText({ title: `New folder in ${where}`, okLabel: 'Create' });
    if (!result.button.accept || !result.value) {
      return;
    }
    const problem = checkName(result.value);
    if (problem) {
      this.showError(`cannot create the folder: ${problem}`);
      return;
    }
    try {
      await this.api.mkdir(`${where}/${result.value.trim()}`);
      this.hideError();
    } catch (err) {
      this.showError(`cannot create the folder: ${(err as Error).message}`);
    }
    await this.tree?.refreshFolder(where);
  }

  protected onAfterShow(): void {
    this.schedule();
  }

  protected onResize(): void {
    this.schedule();
  }
}
