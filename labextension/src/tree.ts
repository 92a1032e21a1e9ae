/**
 * The library tree as a flat list of rows: folders load their children lazily, one page at a
 * time, and only the rows in view are drawn (see `visibleRange`), so a folder of 100,000 files
 * costs one page request and a few dozen DOM nodes.
 */

import { IEntry, IPage } from './api';

export const PAGE_SIZE = 500;

/** What the tree needs from the API. */
export type Lister = (path: string, offset: number, limit: number) => Promise<IPage>;

export interface INode {
  entry: IEntry;
  depth: number;
  expanded: boolean;
  loading: boolean;
  /** Children loaded so far (a prefix of the folder's listing). */
  children: INode[] | null;
  /** How many children the folder has (from the server's `total`). */
  total: number;
  error: string | null;
}

/** One drawn row: an entry, or the "load more" line at the end of a partly loaded folder. */
export type Row = { kind: 'entry'; node: INode } | { kind: 'more'; parent: INode; loaded: number; total: number };

function folderEntry(path: string): IEntry {
  const name = path.split('/').pop() || path;
  return { path, name, kind: 'folder', size: 0, owner: null, created_at: null, content_type: null };
}

export class LibraryTree {
  readonly root: INode;
  private changed: () => void;

  constructor(
    private lister: Lister,
    rootPath: string,
    onChange: () => void = () => undefined
  ) {
    this.root = this.node(folderEntry(rootPath), -1);
    this.root.expanded = true;
    this.changed = onChange;
  }

  private node(entry: IEntry, depth: number): INode {
    return { entry, depth, expanded: false, loading: false, children: null, total: 0, error: null };
  }

  /** Load (or reload) the first page of a folder. */
  async load(node: INode): Promise<void> {
    node.loading = true;
    node.error = null;
    this.changed();
    try {
      const page = await this.lister(node.entry.path, 0, PAGE_SIZE);
      const previous = new Map((node.children || []).map(c => [c.entry.path, c]));
      node.children = page.items.map(e => this.keep(previous.get(e.path), e, node.depth + 1));
      node.total = page.total;
    } catch (e) {
      node.error = (e as Error).message;
    } finally {
      node.loading = false;
      this.changed();
    }
  }

  /** Re-use a child's expanded state across a reload (its own children reload when expanded). */
  private keep(old: INode | undefined, entry: IEntry, depth: number): INode {
    if (!old || old.entry.kind !== entry.kind) {
      return this.node(entry, depth);
    }
    old.entry = entry;
    return old;
  }

  /** The next page of a partly loaded folder. */
  async loadMore(node: INode): Promise<void> {
    if (node.loading || !node.children || node.children.length >= node.total) {
      return;
    }
    node.loading = true;
    this.changed();
    try {
      const page = await this.lister(node.entry.path, node.children.length, PAGE_SIZE);
      node.children.push(...page.items.map(e => this.node(e, node.depth + 1)));
      node.total = page.total;
    } catch (e) {
      node.error = (e as Error).message;
    } finally {
      node.loading = false;
      this.changed();
    }
  }

  async toggle(node: INode): Promise<void> {
    if (node.entry.kind !== 'folder') {
      return;
    }
    node.expanded = !node.expanded;
    this.changed();
    if (node.expanded && node.children === null) {
      await this.load(node);
    }
  }

  /** Find a loaded node by path. */
  find(path: string): INode | null {
    const walk = (n: INode): INode | null => {
      if (n.entry.path === path) {
        return n;
      }
      for (const c of n.children || []) {
        if (path === c.entry.path || path.startsWith(c.entry.path + '/')) {
          const hit = walk(c);
          if (hit) {
            return hit;
          }
        }
      }
      return null;
    };
    return walk(this.root);
  }

  /** Reload the folder holding `path` (after an upload, rename, delete or a server event). */
  async refreshFolder(path: string): Promise<void> {
    const node = this.find(path);
    if (node && node.entry.kind === 'folder' && node.children !== null) {
      await this.load(node);
      for (const c of node.children || []) {
        if (c.expanded && c.children !== null) {
          await this.refreshFolder(c.entry.path);
        }
      }
    }
  }

  /** The rows of every expanded folder, depth first. */
  rows(): Row[] {
    const out: Row[] = [];
    const walk = (n: INode) => {
      for (const c of n.children || []) {
        out.push({ kind: 'entry', node: c });
        if (c.expanded) {
          walk(c);
        }
      }
      if (n.children && n.children.length < n.total) {
        out.push({ kind: 'more', parent: n, loaded: n.children.length, total: n.total });
      }
    };
    walk(this.root);
    return out;
  }
}

/**
 * Which rows to draw for a scroll position: `[start, end)` with `overscan` rows either side.
 */
export function visibleRange(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  count: number,
  overscan = 10
): [number, number] {
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const shown = Math.ceil(Math.max(0, viewport) / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + shown + overscan);
  return [Math.min(start, end), end];
}
