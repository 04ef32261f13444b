/**
 * The console's URLs of the model, training and serving pages: a stand-in for console-core's
 * `links.ts` (the same functions), which the pages switch to once it is on main.
 */

/** `path` with the query parameters that are set. */
export function href(path: string, query: Record<string, string | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, value);
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

const segment = encodeURIComponent;

/** Model comparison: the versions of one model (console-pages). */
export function modelHref(namespace: string, model: string): string {
  return `/models/${segment(namespace)}/${segment(model)}`;
}

/** Training curves of one TrainingJob (console-pages). */
export function trainingHref(namespace: string, name: string): string {
  return `/training/${segment(namespace)}/${segment(name)}`;
}

/** Serving of one InferenceService (console-pages). */
export function servingHref(namespace: string, name: string): string {
  return `/serving/${segment(namespace)}/${segment(name)}`;
}
