// JSON formatted as JSON.stringify(value, null, 2) does, with the line each path starts on, so
// an issue at "layout.body.2.type" can point at its line in the editor.

/** {text, lines}: lines maps a dotted path ("body.2.type", "" for the whole) to a 0-based line. */
export function formatWithLines(value) {
  const lines = new Map();
  let text = "";
  let line = 0;
  const write = (s) => {
    text += s;
    for (const c of s) if (c === "\n") line += 1;
  };
  const walk = (v, at, indent) => {
    lines.set(at, line);
    const inner = indent + "  ";
    const join = (key) => (at === "" ? key : `${at}.${key}`);
    if (Array.isArray(v) && v.length) {
      write("[\n");
      v.forEach((item, i) => {
        write(inner);
        walk(item, join(String(i)), inner);
        write(i < v.length - 1 ? ",\n" : "\n");
      });
      write(`${indent}]`);
    } else if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length) {
      const keys = Object.keys(v);
      write("{\n");
      keys.forEach((key, i) => {
        write(`${inner}${JSON.stringify(key)}: `);
        walk(v[key], join(key), inner);
        write(i < keys.length - 1 ? ",\n" : "\n");
      });
      write(`${indent}}`);
    } else {
      write(JSON.stringify(v) ?? "null");
    }
  };
  walk(value, "", "");
  return {text, lines};
}

/** The line of `path`, or of its nearest ancestor that exists (a missing key's parent). */
export function lineOf(lines, path) {
  let at = path;
  while (true) {
    if (lines.has(at)) return lines.get(at);
    if (at === "") return 0;
    const dot = at.lastIndexOf(".");
    at = dot < 0 ? "" : at.slice(0, dot);
  }
}

/** Selects 0-based line `n` of a textarea and scrolls it into view. */
export function selectLine(textarea, n) {
  const all = textarea.value.split("\n");
  const start = all.slice(0, n).reduce((sum, l) => sum + l.length + 1, 0);
  textarea.focus();
  textarea.setSelectionRange(start, start + (all[n]?.length ?? 0));
  const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 18;
  textarea.scrollTop = Math.max(0, (n - 3) * lineHeight);
}
