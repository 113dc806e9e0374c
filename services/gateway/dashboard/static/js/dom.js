// Building the page from data: every string from the API goes in as a text node, never as HTML
// (template names, lint messages and render errors are written by strangers).

/** An element: h("a", {href: "#/x", class: "btn", onclick: fn}, "text", child, [more]). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "value" || name === "checked" || name === "disabled") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  add(el, children);
  return el;
}

/** Appends children: nodes as they are, anything else as text; null and false are skipped. */
export function add(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

/** A UTC timestamp of the API shown in the browser's locale, or a dash. */
export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    second: "2-digit"});
}

/** A link inside the dashboard; path segments are encoded here, once. */
export function link(segments, ...children) {
  return h("a", {href: route(segments)}, ...children);
}

export function route(segments) {
  return "#/" + segments.map((s) => encodeURIComponent(String(s))).join("/");
}

/** A status word as a coloured badge (the colour from a fixed list, never from data). */
const TONES = {succeeded: "ok", delivered: "ok", published: "ok", active: "ok",
  failed: "bad", revoked: "bad", cancelled: "muted", expired: "muted", draft: "muted",
  queued: "wait", rendering: "wait", pending: "wait", retrying: "wait", paused: "wait"};
export function badge(word) {
  return h("span", {class: `badge ${TONES[word] ?? "muted"}`}, word);
}

export function table(headers, rows, empty) {
  if (!rows.length) return h("p", {class: "empty"}, empty);
  return h("div", {class: "table-wrap"}, h("table", null,
    h("thead", null, h("tr", null, headers.map((title) => h("th", null, title)))),
    h("tbody", null, rows)));
}

/** A read-only block of code or JSON with a Copy button. */
export function codeBlock(text, label) {
  const pre = h("pre", {class: "code", tabindex: "0", "aria-label": label}, text);
  const copy = h("button", {type: "button", class: "btn small ghost", onclick: async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Select and copy";
    }
  }}, "Copy");
  return h("div", {class: "code-block"}, h("div", {class: "code-head"}, h("span", null, label), copy), pre);
}

/** A labelled form field; a `wide` one takes two columns of a form's grid. */
export function field(label, input, hint = null, wide = false) {
  return h("label", {class: wide ? "field wide" : "field"}, h("span", {class: "label"}, label), input,
    hint ? h("span", {class: "hint"}, hint) : null);
}
