// What every page shares: error boxes, notices, busy buttons.
import {ApiError} from "./api.js";
import {fill, h} from "./dom.js";

/** An API error as the user reads it: the message, its code, and every issue at its path. */
export function errorBox(error) {
  if (!(error instanceof ApiError)) {
    console.error(error);  // a dashboard bug: reported to the console (and so to its tests)
    error = new ApiError(0, "dashboard_error",
      "The dashboard hit a problem it did not expect. Reload the page and try again.");
  }
  const issues = error.issues ?? {};
  const form = Array.isArray(issues.formErrors) ? issues.formErrors : [];
  const fields = issues.fieldErrors && typeof issues.fieldErrors === "object"
    ? Object.entries(issues.fieldErrors) : [];
  return h("div", {class: "alert error", role: "alert"},
    h("p", {class: "alert-title"}, error.message),
    h("p", {class: "alert-meta"}, h("code", null, error.code),
      error.status ? ` · HTTP ${error.status}` : null,
      error.requestId ? ` · request ${error.requestId}` : null),
    form.length || fields.length ? issueList(form, fields) : null);
}

export function issueList(form, fields) {
  return h("ul", {class: "issues"},
    form.map((message) => h("li", null, String(message))),
    fields.map(([path, messages]) => h("li", {"data-path": path},
      h("code", {class: "path"}, path), " ",
      [messages].flat().map(String).join("; "))));
}

/** JSON typed by the user; ApiError invalid_json naming `what` and where it broke. */
export function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(0, "invalid_json", `${what} is not valid JSON: ${error.message}`);
  }
}

export function notice(text, ...more) {
  return h("div", {class: "alert ok", role: "status"}, h("p", {class: "alert-title"}, text), ...more);
}

/**
 * Runs `action` with the button disabled, showing its error (or clearing the old one) in `out`.
 * Answers the action's result, or undefined when it failed.
 */
export async function busy(button, out, action) {
  button.disabled = true;
  out?.replaceChildren();
  try {
    return await action();
  } catch (error) {
    if (out) out.replaceChildren(errorBox(error));
    else throw error;
    return undefined;
  } finally {
    button.disabled = false;
  }
}

/** A button that asks once more before it acts (no window.confirm: it blocks and hides). */
export function confirmButton(label, confirmLabel, action, cls = "btn small danger") {
  const button = h("button", {type: "button", class: cls, onclick: async () => {
    if (button.dataset.armed !== "yes") {
      button.dataset.armed = "yes";
      button.textContent = confirmLabel;
      setTimeout(() => {
        if (button.isConnected) {
          button.dataset.armed = "";
          button.textContent = label;
        }
      }, 5000);
      return;
    }
    button.dataset.armed = "";
    await action(button);
  }}, label);
  return button;
}

export function pageHeader(title, subtitle, ...actions) {
  return h("header", {class: "page-head"},
    h("div", null, h("h1", null, title), subtitle ? h("p", {class: "subtitle"}, subtitle) : null),
    actions.length ? h("div", {class: "actions"}, actions) : null);
}

export function section(title, ...children) {
  return h("section", {class: "card"}, title ? h("h2", null, title) : null, ...children);
}

// "Next page" under a list whose answer has a nextCursor: load(cursor) shows that page in `list`;
// an error while loading it (a revoked key's 401 included) is shown there, not left uncaught.
export function nextPageButton(page, list, context, load) {
  if (!page.nextCursor) return null;
  return h("button", {type: "button", class: "btn", onclick: () => load(page.nextCursor).catch(
    (error) => context.alive && fill(list, errorBox(error)))}, "Next page");
}
