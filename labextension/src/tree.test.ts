import { describe, expect, it } from 'vitest';

import { IEntry, IPage } from './api';
import { LibraryTree, PAGE_SIZE, visibleRange } from './tree';

function entry(path: string, kind: 'file' | 'folder' = 'file'): IEntry {
  return { path, name: path.split('/').pop()!, kind, size: 1, owner: 'me', created_at: null, content_type: null };
}

/** A folder tree held in memory, listed page by page like the server does. */
function lister(tree: Record<string, IEntry[]>, calls: string[] = []) {
  return async (path: string, offset: number, limit: number): Promise<IPage> => {
    calls.push(`${path}@${offset}`);
    if (!(path in tree)) {
      throw new Error(`no such folder: '${path}'`);
    }
    const all = tree[path];
    return { path, total: all.length, limit, offset, items: all.slice(offset, offset + limit) };
  };
}

describe('LibraryTree', () => {
  it('loads a folder only when it is expanded', async () => {
    const calls: string[] = [];
    const t = new LibraryTree(
      lister({ home: [entry('home/a', 'folder'), entry('home/b.txt')], 'home/a': [entry('home/a/c.dcm')] }, calls),
      'home'
    );
    await t.load(t.root);
    expect(t.rows().map(r => (r.kind === 'entry' ? r.node.entry.name : 'more'))).toEqual(['a', 'b.txt']);
    expect(calls).toEqual(['home@0']);
    await t.toggle(t.find('home/a')!);
    expect(calls).toEqual(['home@0', 'home/a@0']);
    const rows = t.rows();
    expect(rows.length).toBe(3);
    expect(rows[1].kind === 'entry' && rows[1].node.depth).toBe(1);
    await t.toggle(t.find('home/a')!); // collapse: no request, rows hidden
    expect(t.rows().length).toBe(2);
    expect(calls.length).toBe(2);
  });

  it('pages a large folder and ends it with a "more" row until all is loaded', async () => {
    const many = Array.from({ length: PAGE_SIZE * 2 + 7 }, (_, i) => entry(`big/f${String(i).padStart(6, '0')}`));
    const t = new LibraryTree(lister({ big: many }), 'big');
    await t.load(t.root);
    let rows = t.rows();
    expect(rows.length).toBe(PAGE_SIZE + 1);
    expect(rows[PAGE_SIZE]).toMatchObject({ kind: 'more', loaded: PAGE_SIZE, total: many.length });
    await t.loadMore(t.root);
    await t.loadMore(t.root);
    rows = t.rows();
    expect(rows.length).toBe(many.length);
    expect(rows.every(r => r.kind === 'entry')).toBe(true);
  });

  it('keeps expanded folders open across a refresh and shows new children', async () => {
    const data: Record<string, IEntry[]> = { h: [entry('h/x', 'folder')], 'h/x': [entry('h/x/1')] };
    const t = new LibraryTree(lister(data), 'h');
    await t.load(t.root);
    await t.toggle(t.find('h/x')!);
    data['h/x'] = [entry('h/x/1'), entry('h/x/2')];
    await t.refreshFolder('h');
    expect(t.rows().map(r => (r.kind === 'entry' ? r.node.entry.path : ''))).toEqual(['h/x', 'h/x/1', 'h/x/2']);
  });

  it("keeps a folder's error on the folder (the panel shows it)", async () => {
    const t = new LibraryTree(lister({ h: [entry('h/gone', 'folder')] }), 'h');
    await t.load(t.root);
    await t.toggle(t.find('h/gone')!);
    expect(t.find('h/gone')!.error).toBe("no such folder: 'h/gone'");
    expect(t.find('h/gone')!.loading).toBe(false);
  });
});

describe('visibleRange', () => {
  it('draws only the rows in view, plus overscan', () => {
    expect(visibleRange(0, 260, 26, 100_000, 10)).toEqual([0, 21]);
    const [start, end] = visibleRange(26 * 50_000, 260, 26, 100_000, 10);
    expect([start, end]).toEqual([49_990, 50_021]);
    expect(end - start).toBeLessThan(40);
  });

  it('stays inside the list', () => {
    expect(visibleRange(26 * 1000, 260, 26, 5, 10)).toEqual([5, 5]);
    expect(visibleRange(-50, 260, 26, 3)).toEqual([0, 3]);
  });
});
