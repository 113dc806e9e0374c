// A version being edited, handed from one page to the editor (memory only: never stored).
const drafts = new Map();

export function keep(slug, draft) { drafts.set(slug, draft); }

/** The draft left for `slug` ({manifest, layout, example?, issues?}), once. */
export function take(slug) {
  const draft = drafts.get(slug);
  drafts.delete(slug);
  return draft;
}
