/**
 * The ChRIS REST API as the panels use it: `<base_url>chris/api/v1/...` on the Jupyter
 * server, with Jupyter's own credentials (token header, or the login cookie plus `_xsrf`).
 *
 * No DOM here: the functions take a `fetch` and an XHR factory so the unit tests run them
 * against a real local HTTP server.
 */

export const API_ROOT = 'chris/api/v1/';

/** One file or folder, as `GET files` lists it. */
export interface IEntry {
  path: string;
  name: string;
  kind: 'folder' | 'file';
  size: number;
  owner: string | null;
  created_at: string | null;
  content_type: string | null;
}

/** One page of a folder's children (folders first, then files, each by name). */
export interface IPage {
  path: string | null;
  total: number;
  limit: number;
  offset: number;
  items: IEntry[];
}

export interface IMe {
  username: string;
  is_admin: boolean;
  groups: string[];
}

/** A refusal from the server, with the message it gave (never just a status code). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What the API needs to know about the Jupyter server it talks to. */
export interface IConnection {
  /** The Jupyter server's base URL, absolute, ending with "/". */
  baseUrl: string;
  /** The server token ('' when the page authenticates with the login cookie). */
  token: string;
  /** Reads a cookie of the page (the `_xsrf` one), '' when there is none. */
  cookie(name: string): string;
  fetch: typeof fetch;
  /** Makes an XMLHttpRequest (uploads need its progress events; fetch has none). */
  xhr(): XMLHttpRequest;
}

/** The message an error body carries (Jupyter's JSON `message`, else the status text). */
export function errorMessage(status: number, body: string, statusText = ''): string {
  try {
    const data = JSON.parse(body);
    if (data && typeof data.message === 'string' && data.message) {
      return data.message;
    }
  } catch {
    // not JSON: fall through
  }
  const text = body.trim();
  if (text && text.length < 300 && !text.startsWith('<')) {
    return text;
  }
  return `${status} ${statusText || 'request failed'}`.trim();
}

/** Query string of a parameter object; undefined values are left out. */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined) {
      q.set(k, String(v));
    }
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export class ChrisApi {
  constructor(readonly conn: IConnection) {}

  /** Absolute URL of an API resource. */
  url(resource: string, params: Record<string, string | number | boolean | undefined> = {}): string {
    return this.conn.baseUrl + API_ROOT + resource + query(params);
  }

  /** A URL a browser can navigate to (a download): carries the token when there is one. */
  downloadUrl(entry: Pick<IEntry, 'path' | 'kind'>): string {
    const resource = entry.kind === 'folder' ? 'files/zip' : 'files/content';
    const token = this.conn.token || undefined;
    return this.url(resource, { path: entry.path, token });
  }

  /**
   * The event stream's URL for an `EventSource`, which cannot send headers: the token when the page
   * has one, and the `_xsrf` cookie as an argument. A hub user's server reads no token from a URL
   * and accepts its login cookie on a script's request only with `_xsrf`; without it, the request
   * would be sent to the hub's login over and over (each time replacing the page's cookies).
   */
  eventsUrl(types: string[]): string {
    const xsrf = this.conn.cookie('_xsrf') || undefined;
    return this.url('events', { types: types.join(','), token: this.conn.token || undefined, _xsrf: xsrf });
  }

  /**
   * The URL of a script the page imports (the viewer's bundle): a module import is a script's
   * request with no headers, so it carries the `_xsrf` cookie as an argument, as the event stream
   * does (a hub user's server answers it 403 otherwise).
   */
  scriptUrl(resource: string): string {
    return this.url(resource, { _xsrf: this.conn.cookie('_xsrf') || undefined });
  }

  headers(json = false): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.conn.token) {
      h['Authorization'] = `token ${this.conn.token}`;
    }
    const xsrf = this.conn.cookie('_xsrf');
    if (xsrf) {
      h['X-XSRFToken'] = xsrf;
    }
    if (json) {
      h['Content-Type'] = 'application/json';
    }
    return h;
  }

  async request<T>(method: string, resource: string, params = {}, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await this.conn.fetch(this.url(resource, params), {
        method,
        headers: this.headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin'
      });
    } catch (e) {
      throw new ApiError(0, `cannot reach the ChRIS server: ${(e as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) {
      throw new ApiError(response.status, errorMessage(response.status, text, response.statusText));
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  me(): Promise<IMe> {
    return this.request('GET', 'me');
  }

  list(path: string, offset = 0, limit = 200): Promise<IPage> {
    return this.request('GET', 'files', { path, offset, limit });
  }

  mkdir(path: string): Promise<IEntry> {
    return this.request('POST', 'files/folders', {}, { path });
  }

  move(src: string, dst: string): Promise<IEntry> {
    return this.request('POST', 'files/move', {}, { src, dst });
  }

  remove(path: string): Promise<unknown> {
    return this.request('DELETE', 'files', { path });
  }

  /**
   * Upload one file (raw `PUT files/content`), reporting bytes sent; `signal` cancels it (the
   * server then keeps nothing: an upload appears atomically or not at all).
   */
  upload(
    path: string,
    body: Blob,
    onProgress: (sent: number, total: number) => void,
    signal?: AbortSignal,
    overwrite = false
  ): Promise<IEntry> {
    return new Promise((resolve, reject) => {
      const xhr = this.conn.xhr();
      xhr.open('PUT', this.url('files/content', { path, overwrite: overwrite || undefined }));
      for (const [k, v] of Object.entries(this.headers())) {
        xhr.setRequestHeader(k, v);
      }
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.upload.onprogress = ev => onProgress(ev.loaded, ev.lengthComputable ? ev.total : body.size);
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(body.size, body.size);
          resolve(JSON.parse(xhr.responseText) as IEntry);
        } else {
          reject(new ApiError(xhr.status, errorMessage(xhr.status, xhr.responseText, xhr.statusText)));
        }
      };
      xhr.onerror = () => reject(new ApiError(0, `upload of ${path} failed: the connection broke`));
      xhr.onabort = () => reject(new ApiError(0, 'cancelled'));
      if (signal) {
        if (signal.aborted) {
          reject(new ApiError(0, 'cancelled'));
          return;
        }
        signal.addEventListener('abort', () => xhr.abort(), { once: true });
      }
      xhr.send(body);
    });
  }
}

/** The viewer's volume id for an entry, or null when the viewer cannot show it. */
export function viewerVolumeId(entry: IEntry, children?: IEntry[]): string | null {
  const name = entry.name.toLowerCase();
  if (entry.kind === 'file') {
    if (name.endsWith('.nii') || name.endsWith('.nii.gz') || isDicom(entry)) {
      return `path:${entry.path}`;
    }
    return null;
  }
  // A folder: viewable when the part of it we have loaded holds DICOM files (a series).
  if (children && children.some(isDicom)) {
    return `path:${entry.path}`;
  }
  return null;
}

export function isDicom(entry: IEntry): boolean {
  return (
    entry.kind === 'file' && (entry.content_type === 'application/dicom' || entry.name.toLowerCase().endsWith('.dcm'))
  );
}

/** The parent folder of a library path ('' for a top folder). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Check a new name for rename: one path segment, not empty, no "." or "..". */
export function checkName(name: string): string | null {
  const n = name.trim();
  if (!n) {
    return 'give a name';
  }
  if (n.includes('/')) {
    return 'a name cannot contain "/" (use Move to change folders)';
  }
  if (n === '.' || n === '..') {
    return `"${n}" is not a valid name`;
  }
  return null;
}

export function humanSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

// -- plugins, feeds and plugin instances ---------------------------------------------------

/** One parameter of a plugin, as its descriptor declares it. */
export interface IParameter {
  name: string;
  type: 'str' | 'int' | 'float' | 'bool' | 'path' | 'unextpath' | string;
  flag: string;
  short_flag?: string;
  action?: 'store' | 'store_true' | 'store_false' | string;
  optional: boolean;
  default?: unknown;
  help?: string;
  ui_exposed?: boolean;
}

export interface IPlugin {
  id: number;
  name: string;
  version: string;
  type: 'fs' | 'ds' | 'ts' | string;
  title: string;
  category: string;
  parameters: IParameter[];
  descriptor: Record<string, unknown>;
  compute_resources?: string[];
}

export interface IFeed {
  id: number;
  name: string;
  owner: string;
  note: string;
  folder: string;
  created_at: string;
  modified_at: string;
  tags: string[];
  access?: string;
}

/** A plugin instance (a job), as `GET instances` and the `plugin_instance.state` event give it. */
export interface IInstance {
  id: number;
  owner: string;
  feed_id: number | null;
  previous_id: number | null;
  plugin: string | null;
  plugin_version: string | null;
  title: string;
  state: string;
  exit_code: number | null;
  error: string;
  output_path: string;
  output_count: number;
  params?: Record<string, unknown>;
  resources?: Record<string, number>;
  created_at?: string;
  started_at?: string | null;
  ended_at?: string | null;
}

export interface IList<T> {
  total: number;
  items: T[];
}

/** What `POST instances` takes. */
export interface IRunRequest {
  plugin: number | string;
  params: Record<string, unknown>;
  previous_id?: number;
  title?: string;
  resources?: Record<string, number>;
}

export class ChrisComputeApi {
  constructor(readonly api: ChrisApi) {}

  plugins(): Promise<IList<IPlugin>> {
    return this.api.request('GET', 'plugins');
  }

  feeds(name?: string, offset = 0, limit = 50): Promise<IPage & { items: IFeed[] }> {
    return this.api.request('GET', 'feeds', { name: name || undefined, offset, limit }) as never;
  }

  instances(feedId?: number, limit = 500): Promise<IList<IInstance>> {
    return this.api.request('GET', 'instances', { feed_id: feedId, limit });
  }

  instance(id: number): Promise<IInstance> {
    return this.api.request('GET', `instances/${id}`);
  }

  run(body: IRunRequest): Promise<IInstance> {
    return this.api.request('POST', 'instances', {}, body);
  }

  cancel(id: number): Promise<{ cancelled: number[] }> {
    return this.api.request('POST', `instances/${id}/cancel`, {}, {});
  }

  /** The job's log as text. */
  async logs(id: number): Promise<string> {
    let response: Response;
    try {
      response = await this.api.conn.fetch(this.api.url(`instances/${id}/logs`), {
        headers: this.api.headers(),
        credentials: 'same-origin'
      });
    } catch (e) {
      throw new ApiError(0, `cannot reach the ChRIS server: ${(e as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) {
      throw new ApiError(response.status, errorMessage(response.status, text, response.statusText));
    }
    return text;
  }
}

// -- shares, private links, feed notes and comments -----------------------------------------

/** A share of a path (or feed) with a user, a group or everyone, as `GET shares` lists it. */
export interface IShare {
  id: number;
  path: string | null;
  feed_id: number | null;
  user: string | null;
  group: string | null;
  public: boolean;
  permission: 'read' | 'write';
  created_by: string | null;
  created_at: string;
}

/** What `POST shares` takes: a path or a feed, and exactly one of a user, a group or everyone. */
export interface IShareRequest {
  path?: string;
  feed_id?: number;
  user?: string;
  group?: string;
  public?: boolean;
  permission: 'read' | 'write';
}

/** A private link; `token` and `url` only in the answer to `POST links` (shown once). */
export interface ILink {
  id: number;
  path: string | null;
  feed_id: number | null;
  created_at: string;
  expires_at: string;
  revoked: boolean;
  token?: string;
  url?: string;
}

export interface IComment {
  id: number;
  feed_id: number;
  author: string;
  title: string;
  content: string;
  created_at: string;
}

export class ChrisShareApi {
  constructor(readonly api: ChrisApi) {}

  shares(): Promise<{ items: IShare[] }> {
    return this.api.request('GET', 'shares');
  }

  share(body: IShareRequest): Promise<IShare> {
    return this.api.request('POST', 'shares', {}, body);
  }

  unshare(id: number): Promise<unknown> {
    return this.api.request('DELETE', `shares/${id}`);
  }

  links(): Promise<{ items: ILink[] }> {
    return this.api.request('GET', 'links');
  }

  /** A private link to a path (`{ path }`) or a feed (`{ feed_id }`). */
  link(what: { path: string } | { feed_id: number }, expiresIn: number): Promise<ILink> {
    return this.api.request('POST', 'links', {}, { ...what, expires_in: expiresIn });
  }

  revokeLink(id: number): Promise<unknown> {
    return this.api.request('DELETE', `links/${id}`);
  }

  setNote(feedId: number, note: string): Promise<IFeed> {
    return this.api.request('PATCH', `feeds/${feedId}`, {}, { note });
  }

  comments(feedId: number): Promise<{ items: IComment[] }> {
    return this.api.request('GET', `feeds/${feedId}/comments`);
  }

  comment(feedId: number, content: string, title = ''): Promise<IComment> {
    return this.api.request('POST', `feeds/${feedId}/comments`, {}, { title, content });
  }
}
