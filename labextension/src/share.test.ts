import { AddressInfo } from 'node:net';
import { Server, createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ApiError, ChrisApi, ChrisShareApi, ILink, IShare } from './api';
import { absoluteLink, linksOf, receivedShares, shareRequest, shareTarget, sharesOf, subjectName } from './share';

function share(id: number, path: string, extra: Partial<IShare> = {}): IShare {
  return {
    id,
    path,
    feed_id: null,
    user: null,
    group: null,
    public: false,
    permission: 'read',
    created_by: 'alice',
    created_at: '2026-01-01T00:00:00',
    ...extra
  };
}

describe('shareRequest', () => {
  it('shares with one user, one group or everyone', () => {
    expect(shareRequest('home/a/x', 'user', ' bob ', 'write')).toEqual({
      path: 'home/a/x',
      user: 'bob',
      permission: 'write'
    });
    expect(shareRequest('home/a/x', 'group', 'radiology', 'read')).toEqual({
      path: 'home/a/x',
      group: 'radiology',
      permission: 'read'
    });
    expect(shareRequest('home/a/x', 'public', 'ignored', 'read')).toEqual({
      path: 'home/a/x',
      public: true,
      permission: 'read'
    });
  });

  it('says what is missing instead of sending a request the server refuses', () => {
    expect(shareRequest('home/a/x', 'user', '  ', 'read')).toBe('give the user name to share with');
    expect(shareRequest('home/a/x', 'group', '', 'read')).toBe('give the group name to share with');
    expect(shareRequest('home/a/x', 'public', '', 'write')).toMatch(/read-only/);
  });
});

describe('a feed as the subject', () => {
  const feed = { feedId: 7, name: 'brain study' };

  it('shares and lists by feed_id, not by path', () => {
    expect(shareRequest(feed, 'user', 'bob', 'write')).toEqual({ feed_id: 7, user: 'bob', permission: 'write' });
    expect(shareRequest(feed, 'public', '', 'read')).toEqual({ feed_id: 7, public: true, permission: 'read' });
    const all = [
      share(3, 'home/a/x'),
      share(2, null as unknown as string, { feed_id: 7, user: 'bob' }),
      share(1, null as unknown as string, { feed_id: 8 })
    ];
    expect(sharesOf(all, feed).map(s => s.id)).toEqual([2]);
    expect(sharesOf(all, 'home/a/x').map(s => s.id)).toEqual([3]);
    const links: ILink[] = [
      { id: 1, path: null, feed_id: 7, created_at: '', expires_at: '2999-01-01T00:00:00', revoked: false },
      { id: 2, path: 'home/a/x', feed_id: null, created_at: '', expires_at: '2999-01-01T00:00:00', revoked: false }
    ];
    expect(linksOf(links, feed).map(l => l.id)).toEqual([1]);
  });

  it('is named by its name and number', () => {
    expect(subjectName(feed)).toBe('feed "brain study" (#7)');
    expect(subjectName({ feedId: 9, name: '' })).toBe('feed "9" (#9)');
    expect(subjectName('home/a/x')).toBe('home/a/x');
  });
});

describe('absoluteLink', () => {
  it("makes the server's link absolute on the Jupyter server's origin", () => {
    expect(absoluteLink('/user/a/chris/api/v1/links/chrislink_x/files', 'http://127.0.0.1:8888/user/a/')).toBe(
      'http://127.0.0.1:8888/user/a/chris/api/v1/links/chrislink_x/files'
    );
    expect(absoluteLink('https://elsewhere.example/l', 'http://127.0.0.1:8888/')).toBe('https://elsewhere.example/l');
  });
});

describe('share lists', () => {
  const all = [
    share(3, 'home/a/x', { user: 'bob', permission: 'write' }),
    share(1, 'home/a/x', { public: true }),
    share(2, 'home/a/y', { group: 'lab' }),
    share(4, 'home/b/z', { user: 'alice', created_by: 'bob' }),
    share(5, 'home/c/w', { group: 'lab', created_by: 'carol' }),
    share(6, 'home/c/w', { user: 'alice', created_by: 'carol', permission: 'write' }),
    share(7, null as unknown as string, { feed_id: 9, user: 'alice', created_by: 'dave' })
  ];

  it("names a share's target", () => {
    expect(all.slice(0, 3).map(shareTarget)).toEqual(['user bob', 'everyone', 'group lab']);
  });

  it("keeps a path's own shares, oldest first", () => {
    expect(sharesOf(all, 'home/a/x').map(s => s.id)).toEqual([1, 3]);
    expect(sharesOf(all, 'home/a')).toEqual([]);
  });

  it('lists what others shared with me, each path once with its strongest permission', () => {
    const got = receivedShares(all, 'alice');
    expect(got.map(s => [s.path, s.permission])).toEqual([
      ['home/b/z', 'read'],
      ['home/c/w', 'write']
    ]);
    expect(receivedShares(all, 'bob').map(s => s.path)).toEqual(['home/a/x', 'home/a/y', 'home/c/w']);
  });

  it('keeps only live links of the path', () => {
    const link = (id: number, path: string, expires: string, revoked = false): ILink => ({
      id,
      path,
      feed_id: null,
      created_at: '2026-01-01T00:00:00',
      expires_at: expires,
      revoked
    });
    const now = new Date('2026-06-01T00:00:00Z');
    const links = [
      link(2, 'home/a/x', '2026-06-08T00:00:00+00:00'),
      link(1, 'home/a/x', '2026-05-01T00:00:00+00:00'),
      link(3, 'home/a/x', '2026-06-08T00:00:00+00:00', true),
      link(4, 'home/a/y', '2026-06-08T00:00:00+00:00')
    ];
    expect(linksOf(links, 'home/a/x', now).map(l => l.id)).toEqual([2]);
  });
});

/** A real loopback server that records requests and answers like the shares, links and feeds API. */
let server: Server;
let base = '';
const seen: { method: string; url: string; body: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', c => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body });
      const json = (status: number, data: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(data));
      };
      if (req.method === 'POST' && req.url === '/b/chris/api/v1/shares' && JSON.parse(body).user === 'nobody') {
        json(404, { message: "no such user: 'nobody'" });
      } else if (req.method === 'DELETE') {
        res.writeHead(204);
        res.end();
      } else if (req.method === 'POST') {
        json(201, { id: 1, ...JSON.parse(body) });
      } else {
        json(200, { items: [] });
      }
    });
  });
  await new Promise<void>(ok => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/b/`;
});

afterAll(() => new Promise<void>(ok => server.close(() => ok())));

function api(): ChrisShareApi {
  return new ChrisShareApi(
    new ChrisApi({
      baseUrl: base,
      token: 't',
      cookie: () => '',
      fetch: (input, init) => fetch(input, init),
      xhr: () => {
        throw new Error('no XHR in node');
      }
    })
  );
}

describe('ChrisShareApi', () => {
  it('sends the shapes the server takes', async () => {
    const a = api();
    await a.share({ path: 'home/a/x', group: 'lab', permission: 'read' });
    await a.unshare(4);
    await a.link({ path: 'home/a/x' }, 3600);
    await a.revokeLink(5);
    await a.setNote(7, 'a note');
    await a.comments(7);
    await a.comment(7, 'looks fine');
    expect(seen.map(r => [r.method, r.url, r.body ? JSON.parse(r.body) : null])).toEqual([
      ['POST', '/b/chris/api/v1/shares', { path: 'home/a/x', group: 'lab', permission: 'read' }],
      ['DELETE', '/b/chris/api/v1/shares/4', null],
      ['POST', '/b/chris/api/v1/links', { path: 'home/a/x', expires_in: 3600 }],
      ['DELETE', '/b/chris/api/v1/links/5', null],
      ['PATCH', '/b/chris/api/v1/feeds/7', { note: 'a note' }],
      ['GET', '/b/chris/api/v1/feeds/7/comments', null],
      ['POST', '/b/chris/api/v1/feeds/7/comments', { title: '', content: 'looks fine' }]
    ]);
  });

  it("gives the server's refusal as the error's message", async () => {
    const err = await api()
      .share({ path: 'home/a/x', user: 'nobody', permission: 'read' })
      .catch(e => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(404);
    expect(err.message).toBe("no such user: 'nobody'");
  });
});
