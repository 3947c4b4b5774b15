import jsonPatch, { type Operation } from "fast-json-patch";

const { compare } = jsonPatch;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

const escapeKey = (key: string) => key.replaceAll("~", "~0").replaceAll("/", "~1");

/**
 * fast-json-patch's compare, but subtrees that the mutated copy shares with the original (the same
 * object, not an equal one) are skipped without being walked: the webhook copies only the paths it
 * changes, so most of a Deployment (managedFields, status, the pod spec) is never compared.
 */
export function diffShared(before: unknown, after: unknown, path = ""): Operation[] {
  if (before === after) return [];
  if (!isPlainObject(before) || !isPlainObject(after)) {
    return compare({ value: before }, { value: after }).map((operation) => ({
      ...operation,
      path: `${path}${operation.path.slice("/value".length)}`,
    }));
  }
  const operations: Operation[] = [];
  for (const key of Object.keys(before)) {
    if (!Object.hasOwn(after, key) && before[key] !== undefined)
      operations.push({ op: "remove", path: `${path}/${escapeKey(key)}` });
  }
  for (const [key, value] of Object.entries(after)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(before, key) || before[key] === undefined) {
      operations.push({ op: "add", path: `${path}/${escapeKey(key)}`, value });
    } else {
      operations.push(...diffShared(before[key], value, `${path}/${escapeKey(key)}`));
    }
  }
  return operations;
}
