import { describe, expect, it } from 'vitest';

import { Transport, UploadQueue, percent, pickedFiles } from './upload';

/** A transport that reports progress in two steps and can be held open or refused. */
function transport(log: string[], refuse: Set<string> = new Set()): Transport {
  return (dest, file, onProgress, signal) =>
    new Promise((resolve, reject) => {
      log.push(`start ${dest}`);
      signal.addEventListener('abort', () => reject(new Error('cancelled')));
      setTimeout(() => {
        if (signal.aborted) {
          return;
        }
        onProgress(file.size / 2, file.size);
        setTimeout(() => {
          if (signal.aborted) {
            return;
          }
          if (refuse.has(dest)) {
            reject(new Error(`${dest} exists`));
          } else {
            onProgress(file.size, file.size);
            resolve({});
          }
        }, 5);
      }, 5);
    });
}

const blob = (n: number) => new Blob([new Uint8Array(n)]);

describe('UploadQueue', () => {
  it('uploads every file under the folder, a few at a time, with progress', async () => {
    const log: string[] = [];
    const seen: number[] = [];
    const q = new UploadQueue(transport(log), item => item && seen.push(percent(item)), undefined, 2);
    q.add('home/me/up/', [
      { file: blob(10), relPath: 'a.dcm' },
      { file: blob(10), relPath: 'dir/b.dcm' },
      { file: blob(10), relPath: 'c.dcm' }
    ]);
    expect(log).toEqual(['start home/me/up/a.dcm', 'start home/me/up/dir/b.dcm']); // concurrency 2
    await q.idle();
    expect(q.items.map(i => i.state)).toEqual(['done', 'done', 'done']);
    expect(seen).toContain(50);
    expect(q.items.every(i => percent(i) === 100)).toBe(true);
  });

  it('keeps the server message of a refused file and goes on with the others', async () => {
    const q = new UploadQueue(transport([], new Set(['h/x'])));
    q.add('h', [
      { file: blob(4), relPath: 'x' },
      { file: blob(4), relPath: 'y' }
    ]);
    await q.idle();
    expect(q.items.map(i => [i.state, i.error])).toEqual([
      ['error', 'h/x exists'],
      ['done', null]
    ]);
  });

  it('holds a file the library already has until the user replaces it or keeps the existing one', async () => {
    const sent: string[] = [];
    const exists = new Set(['h/a', 'h/b']);
    const conflictTransport: Transport = (dest, file, onProgress, signal, overwrite) => {
      sent.push(`${dest}${overwrite ? ' (overwrite)' : ''}`);
      if (exists.has(dest) && !overwrite) {
        return Promise.reject(Object.assign(new Error(`a file already exists at '${dest}'`), { status: 409 }));
      }
      onProgress(file.size, file.size);
      return Promise.resolve({});
    };
    const q = new UploadQueue(conflictTransport);
    const [a, b, c] = q.add('h', [
      { file: blob(4), relPath: 'a' },
      { file: blob(4), relPath: 'b' },
      { file: blob(4), relPath: 'c' }
    ]);
    await q.idle();
    expect([a.state, b.state, c.state]).toEqual(['conflict', 'conflict', 'done']);
    expect(q.conflicts).toEqual([a, b]);
    q.clearFinished(); // a conflict waits for the choice
    expect(q.items).toEqual([a, b]);
    q.replace([a.id]);
    await q.idle();
    q.keepExisting();
    expect([a.state, b.state]).toEqual(['done', 'skipped']);
    expect(sent).toEqual(['h/a', 'h/b', 'h/c', 'h/a (overwrite)']);
    expect(q.conflicts).toEqual([]);
  });

  it('cancels a running and a queued upload', async () => {
    const q = new UploadQueue(transport([]), undefined, undefined, 1);
    const [a, b, c] = q.add('h', [
      { file: blob(4), relPath: 'a' },
      { file: blob(4), relPath: 'b' },
      { file: blob(4), relPath: 'c' }
    ]);
    q.cancel(a.id); // running
    q.cancel(b.id); // still queued
    await q.idle();
    expect([a.state, b.state, c.state]).toEqual(['cancelled', 'cancelled', 'done']);
    q.clearFinished();
    expect(q.items).toEqual([]);
  });

  it('keeps the folder paths of picked folders', () => {
    const f = new File(['x'], 'b.dcm');
    Object.defineProperty(f, 'webkitRelativePath', { value: 'study/s1/b.dcm' });
    expect(pickedFiles([f, new File(['y'], 'c.txt')]).map(p => p.relPath)).toEqual(['study/s1/b.dcm', 'c.txt']);
  });
});
