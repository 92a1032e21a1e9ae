// Where the pixels come from: one binary GET of a NIfTI file, same-origin with
// JupyterLab so the Jupyter cookie authenticates it. Never through widget state.

/** JupyterLab's base URL (from its page config), always ending with "/". */
export function jupyterBaseUrl() {
  const node = document.getElementById("jupyter-config-data");
  let base = "/";
  if (node) {
    try {
      base = JSON.parse(node.textContent).baseUrl || "/";
    } catch (_e) {
      base = "/";
    }
  }
  return base.endsWith("/") ? base : base + "/";
}

/** The `_xsrf` cookie value, to send as `X-XSRFToken` on non-GET requests. */
export function xsrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}

/**
 * The backend's REST API root, ending with "/": the `api_base` trait if set (a server URL,
 * or the API root itself), else `<Jupyter base URL>chris/api/v1/` (same origin).
 */
export function apiBase(model) {
  let b = model.get("api_base") || "";
  if (!b) return `${jupyterBaseUrl()}chris/api/v1/`;
  if (!b.endsWith("/")) b += "/";
  return /chris\/api\/v1\/$/.test(b) ? b : `${b}chris/api/v1/`;
}

/**
 * Jupyter's XSRF token as a header, for a request to ``url`` on this page's origin (never sent
 * elsewhere). A JupyterHub user's server takes its login cookie on a script's request, a GET
 * included, only with it; a plain Jupyter server ignores it on a GET.
 */
export function xsrfHeaders(url) {
  const xsrf = xsrfToken();
  if (!xsrf) return {};
  try {
    return new URL(url, window.location.href).origin === window.location.origin ? { "X-XSRFToken": xsrf } : {};
  } catch (_e) {
    return {};
  }
}

/** Headers authenticating a backend call: the `api_token` trait, else Jupyter's XSRF token. */
export function authHeaders(model) {
  const token = model.get("api_token") || "";
  if (token) return { Authorization: `${token.startsWith("chris_") ? "Bearer" : "token"} ${token}` };
  return xsrfHeaders(apiBase(model));
}

/** Headers for the source or overlay volume: the backend's when it serves it, else (a URL given
 * as is) only the XSRF token, and only on this origin. */
export function volumeHeaders(model, which) {
  const given = model.get(which === "overlay" ? "overlay_url" : "source_url");
  return given ? xsrfHeaders(volumeUrl(model, which)) : authHeaders(model);
}

/**
 * Resolve the URL of the base image ("source") or the label overlay ("overlay").
 * Absolute URLs and "/paths" are used as given; other relative URLs ("files/ct.nii")
 * are relative to Jupyter's base URL, so they also work behind JupyterHub's /user/<name>/.
 */
export function volumeUrl(model, which) {
  const url = model.get(which === "overlay" ? "overlay_url" : "source_url");
  if (url) return /^([a-z][a-z0-9+.-]*:|\/)/i.test(url) ? url : jupyterBaseUrl() + url;
  const id = model.get(which === "overlay" ? "overlay_volume_id" : "volume_id");
  if (id) return `${apiBase(model)}volumes/${encodeURIComponent(id)}`;
  return "";
}

/** Why a request failed, in the server's words: its JSON ``message``, else the body's text. */
export async function serverReason(resp) {
  let text = "";
  try {
    text = await resp.text();
  } catch (_e) {
    text = "";
  }
  try {
    const body = JSON.parse(text);
    if (body && typeof body.message === "string" && body.message) return body.message;
  } catch (_e) {
    // not JSON: an HTML error page or plain text
  }
  text = text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
  return text.slice(0, 300) || resp.statusText || `HTTP ${resp.status}`;
}

/** The volume's name for messages: its decoded id or path, not the URL-encoded URL. */
export function volumeLabel(url) {
  const tail = url.split("?")[0].replace(/^.*\/volumes\//, "");
  try {
    return decodeURIComponent(tail);
  } catch (_e) {
    return tail;
  }
}

/** GET the volume as an ArrayBuffer; fails with the server's reason (``err.status`` set). */
export async function fetchVolume(url, signal, auth = {}) {
  const resp = await fetch(url, {
    credentials: auth.Authorization ? "omit" : "same-origin",
    headers: { Accept: "application/octet-stream", ...auth },
    signal,
  });
  if (!resp.ok) {
    const err = new Error(`cannot load ${volumeLabel(url)}: ${await serverReason(resp)} (HTTP ${resp.status})`);
    err.status = resp.status;
    throw err;
  }
  return resp.arrayBuffer();
}

/** A file name niivue understands (it picks the reader from the extension). */
export function niftiName(url) {
  const path = url.split("?")[0];
  return /\.nii\.gz$/i.test(path) ? "volume.nii.gz" : "volume.nii";
}
