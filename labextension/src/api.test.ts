import { AddressInfo } from 'node:net';
import { Server, createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ApiError, ChrisApi, checkName, errorMessage, humanSize, parentPath, viewerVolumeId } from './api';

/** A real HTTP server on loopback that answers like the ChRIS API (and records requests). */
let server: Server;
let base = '';
const seen: { method: string; url: string; headers: Record<string, unknown>; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', c => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.url!.startsWith('/base/chris/api/v1/files?path=home%2Fnobody')) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({ message: "no such folder, or not shared with you: 'home/nobody'", reason: 'NotFound' })
        );
      } else if (req.url!.startsWith('/base/chris/api/v1/files/move')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ path: JSON.parse(body).dst }));
      } else if (req.url!.startsWith('/base/chris/api/v1/broken')) {
        res.writeHead(502, 'Bad Gateway');
        res.end('<html>proxy error</html>');
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ path: 'home/me', total: 0, limit: 5, offset: 0, items: [] }));
      }
    });
  });
  await new Promise<void>(ok => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/base/`;
});

afterAll(() => new Promise<void>(ok => server.close(() => ok())));

function api(token = 'tok') {
  return new ChrisApi({
    baseUrl: base,
    token,
    cookie: name => (name === '_xsrf' ? 'xs' : ''),
    fetch: (input, init) => fetch(input, init),
    xhr: () => {
      throw new Error('no XHR in node');
    }
  });
}

describe('ChrisApi', () => {
  it("sends Jupyter's credentials and the query", async () => {
    const page = await api().list('home/me', 10, 5);
    expect(page.total).toBe(0);
    const last = seen[seen.length - 1];
    expect(last.url).toBe('/base/chris/api/v1/files?path=home%2Fme&offset=10&limit=5');
    expect(last.headers['authorization']).toBe('token tok');
    expect(last.headers['x-xsrftoken']).toBe('xs');
  });

  it("gives the event stream the page's _xsrf as an argument (an EventSource sends no headers)", () => {
    expect(api().eventsUrl(['file.created', 'share.created'])).toBe(
      `${base}chris/api/v1/events?types=file.created%2Cshare.created&token=tok&_xsrf=xs`
    );
    expect(api('').eventsUrl(['file.created'])).toBe(`${base}chris/api/v1/events?types=file.created&_xsrf=xs`);
  });

  it('sends JSON bodies for moves', async () => {
    const moved = await api().move('home/me/a', 'home/me/b');
    expect(moved.path).toBe('home/me/b');
    expect(JSON.parse(seen[seen.length - 1].body)).toEqual({ src: 'home/me/a', dst: 'home/me/b' });
  });

  it("turns a refusal into an ApiError with the server's message", async () => {
    const err = await api()
      .list('home/nobody')
      .catch(e => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(404);
    expect(err.message).toBe("no such folder, or not shared with you: 'home/nobody'");
  });

  it('names a non-JSON failure by its status, never by its HTML', async () => {
    const err = await api()
      .request('GET', 'broken')
      .catch(e => e);
    expect(err.message).toBe('502 Bad Gateway');
  });

  it('says so when the server cannot be reached', async () => {
    const dead = new ChrisApi({ ...api().conn, baseUrl: 'http://127.0.0.1:9/' });
    const err = await dead.me().catch(e => e);
    expect(err.status).toBe(0);
    expect(err.message).toMatch(/^cannot reach the ChRIS server/);
  });

  it('builds download URLs (a folder as zip), with the token only when there is one', () => {
    expect(api().downloadUrl({ path: 'home/me/s', kind: 'folder' })).toBe(
      `${base}chris/api/v1/files/zip?path=home%2Fme%2Fs&token=tok`
    );
    expect(api('').downloadUrl({ path: 'home/me/a b.nii', kind: 'file' })).toBe(
      `${base}chris/api/v1/files/content?path=home%2Fme%2Fa+b.nii`
    );
  });
});

describe('helpers', () => {
  const f = (name: string, content_type: string | null = null) => ({
    path: `home/me/${name}`,
    name,
    kind: 'file' as const,
    size: 0,
    owner: null,
    created_at: null,
    content_type
  });

  it('knows what the viewer can open', () => {
    expect(viewerVolumeId(f('t1.nii.gz'))).toBe('path:home/me/t1.nii.gz');
    expect(viewerVolumeId(f('x.DCM'))).toBe('path:home/me/x.DCM');
    expect(viewerVolumeId(f('notes.txt'))).toBeNull();
    const folder = { ...f('ct'), kind: 'folder' as const };
    expect(viewerVolumeId(folder, [f('1', 'application/dicom')])).toBe('path:home/me/ct');
    expect(viewerVolumeId(folder, [f('a.txt')])).toBeNull();
    expect(viewerVolumeId(folder)).toBeNull();
  });

  it('checks names and formats sizes', () => {
    expect(checkName(' ok.txt ')).toBeNull();
    expect(checkName('a/b')).toMatch(/cannot contain/);
    expect(checkName('..')).toMatch(/not a valid name/);
    expect(checkName('  ')).toBe('give a name');
    expect(parentPath('home/me/a')).toBe('home/me');
    expect(parentPath('home')).toBe('');
    expect(humanSize(512)).toBe('512 B');
    expect(humanSize(1536)).toBe('1.5 KiB');
    expect(errorMessage(400, '{"message": "bad"}')).toBe('bad');
  });
});
