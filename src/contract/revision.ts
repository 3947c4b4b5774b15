import { createHash } from "node:crypto";
import { TRACK_LABEL } from "./keys.js";

/** JSON with object keys sorted at every depth, so equal templates hash equally whoever wrote them. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let index = 0; index < value.length; index++) {
      if (index > 0) out += ",";
      // JSON.stringify writes undefined array items as null.
      out += value[index] === undefined ? "null" : canonicalJson(value[index]);
    }
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  // Default sort compares UTF-16 code units, which is the order JSON.stringify's callers expect.
  const keys = Object.keys(object).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const inner = object[key];
    if (inner === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(key)}:${canonicalJson(inner)}`;
    first = false;
  }
  return `${out}}`;
}

interface TemplateLike {
  metadata?: { labels?: Record<string, string> | null } | null;
}

/** The template as the user wrote it: serin's own track label taken out. Does not change its input. */
export function withoutTrackLabel<T>(template: T): T {
  const labels = (template as TemplateLike)?.metadata?.labels;
  if (!labels || !Object.hasOwn(labels, TRACK_LABEL)) return template;
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

/** Equality as the revision sees it (key order and undefined members ignored), without building JSON. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return (
      a.length === other.length && a.every((item, index) => sameJson(item ?? null, other[index] ?? null))
    );
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const leftKeys = Object.keys(left).filter((key) => left[key] !== undefined);
  const rightKeys = Object.keys(right).filter((key) => right[key] !== undefined);
  return (
    leftKeys.length === rightKeys.length &&
    leftKeys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]))
  );
}

/**
 * Whether two templates have the same revision. Cheaper than hashing both: a status write (the common
 * UPDATE) leaves the template alone and is settled by a walk that stops at the first difference.
 */
export function sameRevision(a: unknown, b: unknown): boolean {
  return sameJson(withoutTrackLabel(a), withoutTrackLabel(b));
}
