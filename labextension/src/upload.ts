/**
 * Uploads with per-file progress and cancel: a queue that runs a few at a time and tells the
 * panel after every change. The transport is a function (the API's `upload`), so the queue is
 * tested without a browser. A file the library already has (HTTP 409) is a `conflict`, kept until
 * the user chooses: `replace` sends it again with overwrite, `keepExisting` skips it.
 */

export type UploadState = 'queued' | 'uploading' | 'done' | 'error' | 'cancelled' | 'conflict' | 'skipped';

export interface IUploadItem {
  id: number;
  /** Library path the file goes to. */
  dest: string;
  size: number;
  sent: number;
  state: UploadState;
  error: string | null;
}

/** A file and where under the drop target it goes ("a/b/c.dcm" for a dropped folder). */
export interface IPicked {
  file: Blob;
  relPath: string;
}

export type Transport = (
  dest: string,
  file: Blob,
  onProgress: (sent: number, total: number) => void,
  signal: AbortSignal,
  overwrite: boolean
) => Promise<unknown>;

interface IPending {
  item: IUploadItem;
  file: Blob;
  controller: AbortController;
  overwrite: boolean;
}

export class UploadQueue {
  readonly items: IUploadItem[] = [];
  private pending: IPending[] = [];
  /** The files of items in conflict, for `replace`. */
  private held = new Map<number, Blob>();
  private running = 0;
  private nextId = 1;
  private controllers = new Map<number, AbortController>();
  private waiters: (() => void)[] = [];

  constructor(
    private transport: Transport,
    private onChange: (item: IUploadItem | null) => void = () => undefined,
    private onDone: (item: IUploadItem) => void = () => undefined,
    readonly concurrency = 2
  ) {}

  /** Queue files for upload under `folder`. */
  add(folder: string, picked: IPicked[]): IUploadItem[] {
    const added = picked.map(({ file, relPath }) => {
      const item: IUploadItem = {
        id: this.nextId++,
        dest: `${folder.replace(/\/+$/, '')}/${relPath.replace(/^\/+/, '')}`,
        size: file.size,
        sent: 0,
        state: 'queued',
        error: null
      };
      const controller = new AbortController();
      this.controllers.set(item.id, controller);
      this.items.push(item);
      this.pending.push({ item, file, controller, overwrite: false });
      return item;
    });
    this.onChange(null);
    this.pump();
    return added;
  }

  cancel(id: number): void {
    const item = this.items.find(i => i.id === id);
    if (!item || (item.state !== 'queued' && item.state !== 'uploading')) {
      return;
    }
    this.controllers.get(id)?.abort();
    if (item.state === 'queued') {
      this.pending = this.pending.filter(p => p.item.id !== id);
      item.state = 'cancelled';
      this.onChange(item);
      this.settle();
    }
  }

  /** Items whose file the library already has, waiting for the user's choice. */
  get conflicts(): IUploadItem[] {
    return this.items.filter(i => i.state === 'conflict');
  }

  /** Upload these conflicting items (all by default) again, replacing the library's files. */
  replace(ids?: number[]): void {
    for (const item of this.conflicts.filter(i => !ids || ids.includes(i.id))) {
      const file = this.held.get(item.id)!;
      this.held.delete(item.id);
      const controller = new AbortController();
      this.controllers.set(item.id, controller);
      Object.assign(item, { state: 'queued', error: null, sent: 0 });
      this.pending.push({ item, file, controller, overwrite: true });
    }
    this.onChange(null);
    this.pump();
  }

  /** Keep the library's files for these conflicting items (all by default). */
  keepExisting(ids?: number[]): void {
    for (const item of this.conflicts.filter(i => !ids || ids.includes(i.id))) {
      this.held.delete(item.id);
      item.state = 'skipped';
    }
    this.onChange(null);
  }

  /** Forget finished items (done, failed, cancelled, skipped); conflicts wait for a choice. */
  clearFinished(): void {
    const keep = this.items.filter(i => i.state === 'queued' || i.state === 'uploading' || i.state === 'conflict');
    this.items.splice(0, this.items.length, ...keep);
    this.onChange(null);
  }

  get active(): number {
    return this.items.filter(i => i.state === 'queued' || i.state === 'uploading').length;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.active === 0) {
      return Promise.resolve();
    }
    return new Promise(resolve => this.waiters.push(resolve));
  }

  private settle(): void {
    if (this.active === 0) {
      const w = this.waiters.splice(0);
      w.forEach(f => f());
    }
  }

  private pump(): void {
    while (this.running < this.concurrency && this.pending.length) {
      const { item, file, controller, overwrite } = this.pending.shift()!;
      this.running++;
      item.state = 'uploading';
      this.onChange(item);
      this.transport(
        item.dest,
        file,
        (sent, total) => {
          item.sent = sent;
          item.size = total || item.size;
          this.onChange(item);
        },
        controller.signal,
        overwrite
      )
        .then(() => {
          item.state = 'done';
          item.sent = item.size;
        })
        .catch((e: Error & { status?: number }) => {
          if (controller.signal.aborted) {
            item.state = 'cancelled';
          } else if (e.status === 409 && !overwrite) {
            item.state = 'conflict';
            item.error = e.message;
            this.held.set(item.id, file);
          } else {
            item.state = 'error';
            item.error = e.message;
          }
        })
        .finally(() => {
          this.running--;
          this.controllers.delete(item.id);
          this.onChange(item);
          this.onDone(item);
          this.pump();
          this.settle();
        });
    }
  }
}

/** Percent done of an item, 0..100. */
export function percent(item: IUploadItem): number {
  if (item.state === 'done') {
    return 100;
  }
  return item.size > 0 ? Math.min(100, Math.floor((100 * item.sent) / item.size)) : 0;
}

/* ---- what a drop or a file picker gives ------------------------------------------------------ */

interface IFsEntry {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
  file?(ok: (f: File) => void, fail: (e: unknown) => void): void;
  createReader?(): { readEntries(ok: (e: IFsEntry[]) => void, fail: (e: unknown) => void): void };
}

async function walkEntry(entry: IFsEntry, prefix: string, out: IPicked[]): Promise<void> {
  if (entry.isFile && entry.file) {
    const file = await new Promise<File>((ok, fail) => entry.file!(ok, fail));
    out.push({ file, relPath: prefix + entry.name });
  } else if (entry.isDirectory && entry.createReader) {
    const reader = entry.createReader();
    // readEntries answers in batches until it answers an empty one
    for (;;) {
      const batch = await new Promise<IFsEntry[]>((ok, fail) => reader.readEntries(ok, fail));
      if (!batch.length) {
        break;
      }
      for (const e of batch) {
        await walkEntry(e, `${prefix}${entry.name}/`, out);
      }
    }
  }
}

/** Files of a drop, folders walked (their paths kept relative to the drop). */
export async function droppedFiles(data: DataTransfer): Promise<IPicked[]> {
  const out: IPicked[] = [];
  const entries: IFsEntry[] = [];
  for (const item of Array.from(data.items || [])) {
    const e = item.kind === 'file' && item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    if (e) {
      entries.push(e as unknown as IFsEntry);
    }
  }
  if (entries.length) {
    for (const e of entries) {
      await walkEntry(e, '', out);
    }
    return out;
  }
  return pickedFiles(data.files);
}

/** Files from an `<input type=file>` (with `webkitdirectory`, their folder paths are kept). */
export function pickedFiles(files: FileList | File[] | null): IPicked[] {
  return Array.from(files || []).map(f => ({
    file: f,
    relPath: (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name
  }));
}
