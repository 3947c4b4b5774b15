// The benchmark's own writes, as admin over one keep-alive connection pool: objects created from their
// manifests, patches sent, each retried a few times (under load the apiserver may time a request out).
import { setTimeout as sleep } from "node:timers/promises";
import { ApiException } from "@kubernetes/client-node";
import { describeApiError } from "../../src/watch/kube.js";
import type { RawJsonClient } from "../../src/watch/raw-json.js";
import { inParallel } from "../lib/parallel.js";
import type { Write } from "./contender.js";

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

/** The collection path of a kind this benchmark creates. */
function collectionPath(manifest: Manifest): string {
  const plural: Record<string, string> = {
    Namespace: "namespaces",
    Service: "services",
    Deployment: "deployments",
    Canary: "canaries",
    Rollout: "rollouts",
    AnalysisTemplate: "analysistemplates",
  };
  const resource = plural[manifest.kind];
  if (!resource) throw new Error(`the benchmark does not know where to create a ${manifest.kind}`);
  const base = manifest.apiVersion === "v1" ? "/api/v1" : `/apis/${manifest.apiVersion}`;
  const namespace = manifest.metadata.namespace;
  return namespace ? `${base}/namespaces/${namespace}/${resource}` : `${base}/${resource}`;
}

/** Sends a write, up to 5 times; `alreadyDone` says which failure of a retry means the first one landed. */
export async function send(
  raw: RawJsonClient,
  write: Write,
  what: string,
  alreadyDone: (code: number) => boolean = () => false,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await raw.send(write.method, write.path, write.body, write.contentType);
      return;
    } catch (error) {
      if (attempt > 1 && error instanceof ApiException && alreadyDone(error.code)) return;
      if (attempt >= 5) throw new Error(`${what}: ${describeApiError(error)}`);
      await sleep(250 * attempt);
    }
  }
}

/** Creates the objects in order, `width` at a time. */
export async function createObjects(raw: RawJsonClient, objects: readonly object[], width: number) {
  await inParallel(objects, width, (object) => {
    const manifest = object as Manifest;
    return send(
      raw,
      { method: "POST", path: collectionPath(manifest), body: object },
      `create ${manifest.kind} ${manifest.metadata.namespace ?? ""}/${manifest.metadata.name}`,
      (code) => code === 409,
    );
  });
}
