// One Server-Sent Events connection per page and backend credential, shared by every viewer
// on the page: browsers allow only ~6 HTTP/1.1 connections per host, so a notebook with many
// viewers must not hold one stream each. fetch + a ReadableStream reader (not EventSource),
// so that an API token can go in a header. Reconnects with backoff and replays what it
// missed (`since=<last event id>`).
import { apiBase, authHeaders } from "./fetchvol.js";

const EVENT_TYPES = "annotation.created,annotation.deleted,viewer.cursor,viewer.left";
const BACKOFF_MS = [500, 1000, 2000, 5000, 10000, 30000];

const warn = (...args) => console.warn("chris collab:", ...args);

/** Parse complete SSE messages out of `buf`; returns [messages, rest]. */
export function parseSse(buf) {
  const out = [];
  const blocks = buf.replace(/\r\n/g, "\n").split("\n\n");
  const rest = blocks.pop();
  for (const block of blocks) {
    const msg = { id: null, data: [], comment: [] };
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) msg.comment.push(line.slice(1).trim());
      else if (line.startsWith("data:")) msg.data.push(line.slice(5).replace(/^ /, ""));
      else if (line.startsWith("id:")) msg.id = line.slice(3).trim();
    }
    out.push(msg);
  }
  return [out, rest];
}

class Hub {
  constructor(url, headers) {
    this.url = url;
    this.headers = headers;
    this.listeners = new Set();
    this.open = false;
    this.lastEventId = null;
    this.abort = new AbortController();
    this.run();
  }

  add(listener) {
    this.listeners.add(listener);
    if (this.open) this.call(listener, "onOpen");
  }

  call(listener, name, arg) {
    try {
      listener[name](arg);
    } catch (e) {
      warn(e.message || e);
    }
  }

  close() {
    this.abort.abort();
  }

  async run() {
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      try {
        const since = this.lastEventId ? `&since=${encodeURIComponent(this.lastEventId)}` : "";
        const resp = await fetch(`${this.url}events?types=${EVENT_TYPES}${since}`, {
          headers: { Accept: "text/event-stream", ...this.headers },
          credentials: this.headers.Authorization ? "omit" : "same-origin",
          cache: "no-store",
          signal: this.abort.signal,
        });
        if (!resp.ok || !resp.body) throw new Error(`event stream: HTTP ${resp.status}`);
        const reader = resp.body.getReader();
        const decoder = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true });
          const [msgs, rest] = parseSse(buf);
          buf = rest;
          for (const msg of msgs) {
            if (this.message(msg)) attempt = 0;
          }
        }
        if (!this.abort.signal.aborted) warn("event stream closed; reconnecting");
      } catch (e) {
        if (this.abort.signal.aborted) return;
        warn(e.message || e);
      }
      this.open = false;
      const wait = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
      attempt += 1;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** Handle one message; true when it is the server's "connected" greeting. */
  message(msg) {
    if (msg.id) this.lastEventId = msg.id;
    const hello = msg.comment.find((c) => c.startsWith("connected"));
    if (hello) {
      const m = hello.match(/last event id (\d+)/);
      if (m && !this.lastEventId) this.lastEventId = m[1];
      this.open = true;
      for (const l of [...this.listeners]) this.call(l, "onOpen");
      return true;
    }
    if (!msg.data.length) return false;
    let ev;
    try {
      ev = JSON.parse(msg.data.join("\n"));
    } catch (_e) {
      warn("unreadable event", msg.data);
      return false;
    }
    for (const l of [...this.listeners]) this.call(l, "onEvent", ev);
    return false;
  }
}

const hubs = new Map();

/**
 * Listen to the collaboration events this model's credential may see.
 * `listener.onOpen()` runs whenever the stream is (re)connected (nothing can fall between it
 * and later events); `listener.onEvent(ev)` for each `{id, type, time, data}`.
 * Returns the function that stops listening (the last one out closes the connection).
 */
export function subscribe(model, listener) {
  const url = apiBase(model);
  const headers = authHeaders(model);
  const key = `${url}|${headers.Authorization || ""}`;
  let hub = hubs.get(key);
  if (!hub) {
    hub = new Hub(url, headers);
    hubs.set(key, hub);
  }
  hub.add(listener);
  return () => {
    hub.listeners.delete(listener);
    if (!hub.listeners.size && hubs.get(key) === hub) {
      hubs.delete(key);
      hub.close();
    }
  };
}
