// Live collaboration, browser side (no kernel round trip): the viewer joins the
// backend session of its volume. Saved annotations are loaded and merged into the
// `annotations` trait; others' annotation.created / annotation.deleted / viewer.cursor
// events (Server-Sent Events) update `annotations` and `peers`; local edits go back
// over REST (POST / DELETE annotations, POST collab/cursor).
//
// Presence: every view of a widget is its own session (`session_id`). Its cursor POST is also
// its heartbeat (every HEARTBEAT_MS), and the reply says who we are and which sessions the
// server still counts as live; a view that goes away (view removed, page closed) POSTs
// collab/leave, which the others receive as viewer.left. A page that dies silently stops its
// heartbeat: the server (and, failing that, every peer) drops it after PEER_TTL_MS. Peers are
// labelled per session: "alice", or "alice · 2" when alice has several views open, and our own
// other views "you (other view)".
//
// One bridge per model (not per view): two views of one widget must not post twice.
// Nothing here may throw into niivue's render loop: every failure is a console warning.
import { subscribe } from "./eventhub.js";
import { apiBase, authHeaders } from "./fetchvol.js";
import { newId } from "./util.js";

const KINDS = new Set(["point", "distance"]); // what the viewer draws (the backend also has roi)
const CURSOR_MIN_MS = 100; // local crosshair -> backend at most ~10 times a second
const HEARTBEAT_MS = 2000; // re-send a still cursor so peers keep seeing it
const PEER_TTL_MS = 6000; // a peer without news for this long disappears (the server's PRESENCE_TTL)
const PEER_COLORS = ["#ffb000", "#00c8ff", "#ff4fd8", "#7cff4f", "#ff7a45", "#b18cff", "#4fffc1", "#ffe14f"];

const warn = (...args) => console.warn("chris collab:", ...args);

/** A stable colour for a user name (same name, same colour, in every browser). */
export function peerColor(user) {
  let h = 2166136261;
  for (const c of String(user)) h = Math.imul(h ^ c.codePointAt(0), 16777619) >>> 0;
  return PEER_COLORS[h % PEER_COLORS.length];
}

/** Each peer with its `label`: distinct per session, our own other views called "you".
 * In a shared hub server a session may be another person's under our account: its `viewer`
 * (who is at that page) names it, "bob (as alice)"; `myViewer` is who is at this page. */
export function labelPeers(peers, me, myViewer = "") {
  const who = (p) => p.viewer || p.user;
  const key = (p) => `${p.user}\n${who(p)}`;
  const count = new Map();
  for (const p of peers) count.set(key(p), (count.get(key(p)) || 0) + 1);
  return peers.map((p) => {
    const several = count.get(key(p)) > 1 && p.n != null;
    const name = p.viewer ? `${p.viewer} (as ${p.user})` : p.user;
    let label;
    if (me && p.user === me && who(p) === (myViewer || me)) {
      label = several ? `you · ${p.n} (other view)` : "you (other view)";
    } else label = several ? `${name} · ${p.n}` : name;
    return { ...p, label };
  });
}

const peerKey = (user, session) => `${user}\n${session}`;

// Views still in a session when the page goes away (tab closed, reload, navigation).
const liveRuns = new Set();
let pagehideHooked = false;
function hookPagehide() {
  if (pagehideHooked || typeof window === "undefined") return;
  pagehideHooked = true;
  window.addEventListener("pagehide", () => {
    for (const [bridge, run] of liveRuns) bridge.leave(run);
  });
}

/** The viewer's form of a saved annotation (server ids become local ids `srv-<id>`). */
export function fromServer(s) {
  return {
    id: `srv-${s.id}`,
    server_id: s.id,
    kind: s.kind,
    points: s.points,
    text: s.text || "",
    author: s.author || "",
    created: s.created_at || "",
  };
}

class CollabBridge {
  constructor(model) {
    this.model = model;
    this.views = 0;
    this.run = null; // the running session: {volume, abort, timers...}
    // Model handlers run inside whoever changed the model (a tool, the kernel): never throw.
    const safe = (fn) => () => {
      try {
        fn();
      } catch (e) {
        warn(e.message || e);
      }
    };
    this.onChange = safe(() => this.restartIfNeeded());
    this.onAnnotations = safe(() => this.run && this.run.ready && this.syncAnnotations(this.run));
    this.onPosition = safe(() => this.run && this.queueCursor(this.run));
  }

  attach() {
    this.views += 1;
    if (this.views > 1) return;
    for (const k of ["volume_id", "collab", "api_base", "api_token"]) this.model.on(`change:${k}`, this.onChange);
    this.model.on("change:annotations", this.onAnnotations);
    this.model.on("change:position_mm", this.onPosition);
    this.restartIfNeeded();
  }

  detach() {
    this.views -= 1;
    if (this.views > 0) return;
    for (const k of ["volume_id", "collab", "api_base", "api_token"]) this.model.off(`change:${k}`, this.onChange);
    this.model.off("change:annotations", this.onAnnotations);
    this.model.off("change:position_mm", this.onPosition);
    this.stop();
  }

  // ---- session lifecycle ------------------------------------------------------------------
  restartIfNeeded() {
    const m = this.model;
    const volume = m.get("collab") ? m.get("volume_id") || "" : "";
    const key = `${volume}|${apiBase(m)}|${m.get("api_token") || ""}`;
    if (this.run && this.run.key === key) return;
    this.stop();
    if (!volume) return;
    const session = newId();
    m.set("session_id", session);
    m.save_changes();
    this.run = {
      key, volume, session,
      abort: new AbortController(),
      known: new Map(), // local id -> snapshot {server_id, text} of the last synced list
      inflight: new Map(), // local id -> Promise of its POST
      remoteDeleted: new Set(), // server ids removed because the server said so
      replacing: new Set(), // server ids of our own annotations being re-saved after an edit
      peers: new Map(), // user + session -> {user, session, n, color, position, seen}
      me: "", // our user name, from the server's cursor replies
      chain: Promise.resolve(),
      ready: false,
      cursor: { last: 0, timer: null, sent: null },
    };
    const run = this.run;
    run.entry = [this, run];
    liveRuns.add(run.entry);
    hookPagehide();
    run.prune = setInterval(() => this.prunePeers(run), 1000);
    run.heartbeat = setInterval(() => this.queueCursor(run, true), HEARTBEAT_MS);
    run.unsubscribe = subscribe(m, {
      // (Re)load the saved annotations whenever the stream (re)opens: nothing falls in between.
      onOpen: () => this.enqueue(run, () => this.loadSaved(run)),
      onEvent: (ev) => this.live(run) && this.onEvent(run, ev),
    });
  }

  stop() {
    const run = this.run;
    if (!run) return;
    this.run = null;
    liveRuns.delete(run.entry);
    this.leave(run);
    run.abort.abort();
    run.unsubscribe();
    clearInterval(run.prune);
    clearInterval(run.heartbeat);
    clearTimeout(run.cursor.timer);
    if (run.peers.size) this.setPeers(run, true);
  }

  live(run) {
    return this.run === run && !run.abort.signal.aborted;
  }

  /** Tell the server this session is gone (keepalive: it also works while the page unloads). */
  leave(run) {
    if (!run.ready || run.left) return;
    run.left = true;
    const m = this.model;
    const headers = { "Content-Type": "application/json", ...authHeaders(m) };
    try {
      fetch(`${apiBase(m)}collab/leave`, {
        method: "POST",
        headers,
        credentials: headers.Authorization ? "omit" : "same-origin",
        body: JSON.stringify({ volume: run.volume, session: run.session }),
        keepalive: true,
      }).catch(() => {}); // best effort: the heartbeat's expiry covers a lost goodbye
    } catch (_e) {
      // fetch may refuse during unload; the expiry covers it
    }
  }

  // Events and the initial load are handled one after the other, in order.
  enqueue(run, fn) {
    run.chain = run.chain.then(() => (this.live(run) ? fn() : null))
      .catch((e) => this.live(run) && warn(e.message || e));
  }

  // ---- REST -------------------------------------------------------------------------------
  async api(run, method, path, body) {
    const m = this.model;
    const headers = { Accept: "application/json", ...authHeaders(m) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(apiBase(m) + path, {
      method,
      headers,
      credentials: headers.Authorization ? "omit" : "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: run.abort.signal,
    });
    if (!resp.ok) {
      const text = await resp.text().catch(() => "");
      const err = new Error(`${method} ${path}: HTTP ${resp.status} ${text.slice(0, 200)}`);
      err.status = resp.status;
      throw err;
    }
    return resp.status === 204 ? null : resp.json();
  }

  // ---- events (one shared stream per page: eventhub.js) ----------------------------------
  onEvent(run, ev) {
    const data = ev.data || {};
    if (data.volume !== run.volume) return;
    if (ev.type === "viewer.cursor") this.onCursor(run, data);
    else if (ev.type === "viewer.left") this.onLeft(run, data);
    else if (ev.type === "annotation.created") this.enqueue(run, () => this.onCreated(run, data));
    else if (ev.type === "annotation.deleted") this.enqueue(run, () => this.onDeleted(run, data));
  }

  // ---- annotations ------------------------------------------------------------------------
  list() {
    return this.model.get("annotations") || [];
  }

  setAnnotations(anns) {
    this.model.set("annotations", anns);
    this.model.save_changes();
  }

  async loadSaved(run) {
    const { items } = await this.api(run, "GET", `annotations?volume=${encodeURIComponent(run.volume)}`);
    if (!this.live(run)) return;
    const saved = new Map(items.filter((s) => KINDS.has(s.kind)).map((s) => [s.id, s]));
    const out = [];
    const have = new Set();
    for (const a of this.list()) {
      if (a.server_id == null) out.push(a); // not saved yet: the sync below POSTs it
      else if (saved.has(a.server_id)) {
        out.push(a);
        have.add(a.server_id);
      } else run.remoteDeleted.add(a.server_id); // deleted on the server meanwhile
    }
    for (const [id, s] of saved) if (!have.has(id)) out.push(fromServer(s));
    run.ready = true;
    this.setAnnotations(out);
    this.syncAnnotations(run); // also when nothing changed: POST what is still local
    this.queueCursor(run); // show the others where we are
  }

  async onCreated(run, s) {
    if (!KINDS.has(s.kind)) return;
    // Our own POST may not have answered yet: its reply tags the annotation first.
    if (run.inflight.size) await Promise.allSettled([...run.inflight.values()]);
    if (!this.live(run) || this.list().some((a) => a.server_id === s.id)) return;
    this.setAnnotations([...this.list(), fromServer(s)]);
  }

  onDeleted(run, { id }) {
    if (run.replacing.delete(id)) return;
    if (!this.list().some((a) => a.server_id === id)) return;
    run.remoteDeleted.add(id);
    this.setAnnotations(this.list().filter((a) => a.server_id !== id));
  }

  /** Compare the list with the last synced one and send the local differences. */
  syncAnnotations(run) {
    const cur = this.list();
    const prev = run.known;
    const next = new Map();
    const edited = [];
    for (const a of cur) {
      next.set(a.id, { server_id: a.server_id, text: a.text });
      if (a.server_id == null) {
        if (!run.inflight.has(a.id)) this.post(run, a);
      } else {
        const old = prev.get(a.id);
        if (old && old.server_id === a.server_id && old.text !== a.text) edited.push(a);
      }
    }
    for (const [id, old] of prev) {
      if (next.has(id) || old.server_id == null) continue;
      if (run.remoteDeleted.delete(old.server_id)) continue;
      this.api(run, "DELETE", `annotations/${old.server_id}`).catch((e) => this.live(run) && warn(e.message));
    }
    run.known = next;
    for (const a of edited) this.replace(run, a);
  }

  post(run, a) {
    const p = this.api(run, "POST", "annotations", {
      volume: run.volume, kind: a.kind, points: a.points, text: a.text || "",
    })
      .then((saved) => this.tag(run, a.id, saved, a.text || ""))
      .catch((e) => this.live(run) && warn(e.message))
      .finally(() => run.inflight.delete(a.id));
    run.inflight.set(a.id, p);
    return p;
  }

  // Tag a local annotation with its server id (and the server's author and time).
  tag(run, localId, saved, postedText) {
    if (!this.live(run)) return;
    const anns = this.list();
    if (!anns.some((a) => a.id === localId)) {
      // deleted while the POST was in flight: delete the saved copy too
      this.api(run, "DELETE", `annotations/${saved.id}`).catch((e) => warn(e.message));
      return;
    }
    // the text that was saved: if it was edited meanwhile, the sync below saves the edit
    run.known.set(localId, { server_id: saved.id, text: postedText });
    this.setAnnotations(anns.map((a) => (a.id === localId
      ? { ...a, server_id: saved.id, author: saved.author || a.author, created: saved.created_at || a.created }
      : a)));
  }

  // The backend has no edit: a text change of one's own saved annotation deletes the saved
  // copy, then saves the edited one (the others see deleted + created). The server refuses
  // to delete others' annotations: then the edit stays local (a console warning says so).
  replace(run, a) {
    const oldId = a.server_id;
    run.replacing.add(oldId);
    this.api(run, "DELETE", `annotations/${oldId}`)
      .then(() => {
        if (!this.live(run)) return;
        this.setAnnotations(this.list().map((x) => {
          if (x.id !== a.id || x.server_id !== oldId) return x;
          const { server_id: _old, ...rest } = x;
          return rest; // without a server id: the sync POSTs it
        }));
      })
      .catch((e) => {
        run.replacing.delete(oldId);
        if (this.live(run)) warn(`edit kept local: ${e.message}`);
      });
  }

  // ---- cursors ----------------------------------------------------------------------------
  queueCursor(run, heartbeat = false) {
    if (!run.ready || !this.live(run)) return;
    const c = run.cursor;
    // a hidden tab keeps its heartbeat: its page is not gone (only a closed or dead one is)
    if (heartbeat && performance.now() - c.last < HEARTBEAT_MS) return;
    if (c.timer) return;
    const wait = Math.max(0, CURSOR_MIN_MS - (performance.now() - c.last));
    c.timer = setTimeout(() => {
      c.timer = null;
      c.last = performance.now();
      const pos = this.model.get("position_mm");
      if (!pos || pos.length !== 3 || !this.live(run)) return;
      const asked = performance.now();
      this.api(run, "POST", "collab/cursor", { volume: run.volume, position: pos, session: run.session })
        .then((reply) => this.live(run) && this.onPresence(run, reply, asked))
        .catch((e) => this.live(run) && warn(e.message));
    }, wait);
  }

  onCursor(run, d) {
    if (d.session === run.session || !Array.isArray(d.position)) return;
    run.peers.set(peerKey(d.user, d.session), {
      user: d.user, viewer: d.viewer || "", session: d.session, n: d.n, color: peerColor(d.viewer || d.user),
      position: d.position, seen: performance.now(),
    });
    this.setPeers(run);
  }

  onLeft(run, d) {
    if (run.peers.delete(peerKey(d.user, d.session))) this.setPeers(run);
  }

  /** The server's list of live sessions (a cursor reply): add what we missed, drop what it dropped. */
  onPresence(run, reply, asked) {
    if (!reply || !Array.isArray(reply.sessions)) return;
    run.me = reply.user || run.me;
    run.viewer = reply.viewer || "";
    const now = performance.now();
    const live = new Set();
    for (const s of reply.sessions) {
      if (s.session === run.session && s.user === run.me) continue;
      const key = peerKey(s.user, s.session);
      live.add(key);
      if (!run.peers.has(key) && Array.isArray(s.position)) {
        run.peers.set(key, { user: s.user, viewer: s.viewer || "", session: s.session, n: s.n,
          color: peerColor(s.viewer || s.user), position: s.position, seen: now });
      }
    }
    // gone on the server; a peer heard of after we asked is newer than the reply: keep it
    for (const [k, p] of run.peers) if (!live.has(k) && p.seen < asked) run.peers.delete(k);
    this.setPeers(run);
  }

  prunePeers(run) {
    const now = performance.now();
    let gone = false;
    for (const [k, p] of run.peers) {
      if (now - p.seen > PEER_TTL_MS) {
        run.peers.delete(k);
        gone = true;
      }
    }
    if (gone) this.setPeers(run);
  }

  setPeers(run, clear = false) {
    const peers = clear ? [] : labelPeers([...run.peers.values()].map(({ seen: _s, ...p }) => p), run.me,
      run.viewer);
    this.model.set("peers", peers);
    this.model.save_changes();
  }
}

const bridges = new WeakMap();

/** Join the collaboration session of this model's volume; returns the view's detach(). */
export function joinCollab(model) {
  let b = bridges.get(model);
  if (!b) {
    b = new CollabBridge(model);
    bridges.set(model, b);
  }
  try {
    b.attach();
  } catch (e) {
    warn(e.message || e);
  }
  return () => {
    try {
      b.detach();
    } catch (e) {
      warn(e.message || e);
    }
  };
}
