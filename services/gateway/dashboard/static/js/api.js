// The public REST v1 API, called with the key the user signed in with. The key lives in this
// tab's sessionStorage only: closing the tab or signing out forgets it.

const KEY = "craftkit.apiKey";

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  signIn(key) { sessionStorage.setItem(KEY, key); },
  signOut() { sessionStorage.removeItem(KEY); },
};

/** An error answer of the API (or no answer): what the page shows, never a stack trace. */
export class ApiError extends Error {
  constructor(status, code, message, issues = null, requestId = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.issues = issues;
    this.requestId = requestId;
  }
}

/** A random UUID also where crypto.randomUUID is missing (a plain-http deployment). */
function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * One request. `json` is sent as the JSON body; `body` as is (an image). Answers the parsed JSON,
 * or the Response itself with `raw` (a PDF, a PNG). Throws ApiError for any error answer; a 401
 * also signs out and tells the app (which returns to the sign-in page).
 */
export async function call(method, path, {json, body, headers = {}, raw = false, query} = {}) {
  const sent = {Authorization: `Bearer ${session.key ?? ""}`, ...headers};
  if (json !== undefined) {
    sent["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  if (method === "POST") sent["Idempotency-Key"] = uuid();  // a create is never made twice
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value != null && value !== "") params.set(name, value);
    }
    if ([...params].length) url += `?${params}`;
  }
  let response;
  try {
    response = await fetch(url, {method, headers: sent, body, cache: "no-store",
      credentials: "omit", redirect: "error"});
  } catch {
    throw new ApiError(0, "network_error",
      "The Craftkit API could not be reached. Check the connection and try again.");
  }
  if (response.ok) return raw ? response : response.json();
  throw await errorOf(response);
}

async function errorOf(response) {
  let envelope = null;
  try {
    envelope = (await response.json())?.error ?? null;
  } catch {
    envelope = null;  // not our JSON (a proxy's page): say what we know
  }
  const error = new ApiError(response.status, envelope?.code ?? `http_${response.status}`,
    typeof envelope?.message === "string" ? envelope.message
      : `The API answered ${response.status} ${response.statusText}.`,
    envelope?.issues ?? null, response.headers.get("x-request-id"));
  if (response.status === 401) {
    session.signOut();
    window.dispatchEvent(new CustomEvent("craftkit:signed-out", {detail: error}));
  }
  return error;
}

export const get = (path, query) => call("GET", path, {query});
export const post = (path, json) => call("POST", path, {json});

/** Path segments encoded once, here. */
export function path(...segments) {
  return "/v1/" + segments.map((s) => encodeURIComponent(String(s))).join("/");
}

/** Saves a Response's body as a file the browser downloads. */
export async function saveAs(response, fallbackName) {
  const blob = await response.blob();
  const disposition = response.headers.get("content-disposition") ?? "";
  const match = /filename\*=UTF-8''([^;]+)/i.exec(disposition) ?? /filename="([^"]+)"/i.exec(disposition);
  let name = fallbackName;
  if (match) {
    try { name = decodeURIComponent(match[1]); } catch { name = fallbackName; }
  }
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name.replace(/[\\/]/g, "_");
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
