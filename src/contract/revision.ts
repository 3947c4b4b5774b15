import { createHash } from "node:crypto";
import { TRACK_LABEL } from "./keys.js";

/** JSON with object keys sorted at every depth, so equal templates hash equally whoever wrote them. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, inner]) => inner !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

interface TemplateLike {
  metadata?: { labels?: Record<string, string> | null } | null;
}

/** The template as the user wrote it: serin's own track label taken out. Does not change its input. */
export function withoutTrackLabel<T>(template: T): T {
  const labels = (template as TemplateLike)?.metadata?.labels;
  if (!labels || !(TRACK_LABEL in labels)) return template;
  const { [TRACK_LABEL]: _track, ...userLabels } = labels;
  const metadata = (template as TemplateLike).metadata ?? {};
  return { ...template, metadata: { ...metadata, labels: userLabels } };
}

/** DESIGN.md's revision: sha256 of the canonical JSON of spec.template without the track label, 10 hex digits. */
export function templateRevision(template: unknown): string {
  return createHash("sha256")
    .update(canonicalJson(withoutTrackLabel(template)))
    .digest("hex")
    .slice(0, 10);
}
