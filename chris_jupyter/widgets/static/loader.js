// The widget's ES module as the kernel sends it (hand-written, not built; viewer.py fills in
// the version below). It is small on purpose: the 2 MB viewer bundle does not travel through the
// widget comm with every Viewer. The page imports it by URL from its own server
// (chris/api/v1/viewer/viewer.js?v=<hash>), so the browser parses it once per page and keeps
// it in its HTTP cache; when that server cannot give this exact version (no chris_jupyter
// server extension, another version), the kernel sends its copy once per page.
const BUNDLE = "__BUNDLE__";

function serverUrl() {
  const node = document.getElementById("jupyter-config-data");
  if (!node) return null; // not JupyterLab / Notebook: no server to ask
  let base = "/";
  try {
    base = JSON.parse(node.textContent).baseUrl || "/";
  } catch (_e) {
    base = "/";
  }
  if (!base.endsWith("/")) base += "/";
  // a module import sends no headers: a JupyterHub user's server takes the page's login cookie
  // on it only with the _xsrf cookie as an argument (and would answer 403)
  const m = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  const xsrf = m ? `&_xsrf=${encodeURIComponent(decodeURIComponent(m[1]))}` : "";
  return new URL(`${base}chris/api/v1/viewer/viewer.js?v=${BUNDLE}${xsrf}`, document.baseURI).href;
}

function fromKernel(model) {
  return new Promise((resolve, reject) => {
    const onMsg = (msg, buffers) => {
      if (!msg || msg.type !== "chris-viewer-bundle") return;
      model.off("msg:custom", onMsg);
      if (!buffers || !buffers.length) {
        reject(new Error(msg.error || "the kernel sent no viewer bundle"));
        return;
      }
      const url = URL.createObjectURL(new Blob(buffers, { type: "text/javascript" }));
      import(/* webpackIgnore: true */ url).then(resolve, reject).finally(() => URL.revokeObjectURL(url));
    };
    model.on("msg:custom", onMsg);
    model.send({ type: "chris-viewer-bundle" });
  });
}

// One import per page and bundle version, shared by all the page's viewers.
function load(model) {
  const cache = (globalThis.chrisViewerBundles ??= {});
  if (!cache[BUNDLE]) {
    const url = serverUrl();
    cache[BUNDLE] = (url ? import(/* webpackIgnore: true */ url) : Promise.reject(new Error("no server")))
      .then((mod) => ({ mod, via: "server" }))
      .catch(() => fromKernel(model).then((mod) => ({ mod, via: "kernel" })));
    cache[BUNDLE].catch(() => delete cache[BUNDLE]); // a later viewer may try again
  }
  return cache[BUNDLE];
}

export default {
  async render(ctx) {
    const requested = performance.now();
    let bundle;
    try {
      bundle = await load(ctx.model);
    } catch (err) {
      ctx.el.textContent = `The ChRIS viewer could not be loaded: ${err.message || err}`;
      return undefined;
    }
    // how it came and when this view had it (the benchmark's breakdown)
    const loaded = { via: bundle.via, requested, ready: performance.now() };
    return bundle.mod.default.render({ ...ctx, bundle: loaded });
  },
};
