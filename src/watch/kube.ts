import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { RawJsonClient } from "./raw-json.js";

/** The typed API clients the watcher uses, made once from one KubeConfig. */
export interface Kube {
  config: KubeConfig;
  apps: AppsV1Api;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  /** For what carries a user's pod template: sent and read as the apiserver's JSON, nothing dropped. */
  raw: RawJsonClient;
}

export function makeKube(config: KubeConfig): Kube {
  return {
    config,
    apps: config.makeApiClient(AppsV1Api),
    core: config.makeApiClient(CoreV1Api),
    coordination: config.makeApiClient(CoordinationV1Api),
    raw: new RawJsonClient(config),
  };
}

/** The content type of a JSON patch (RFC 6902). */
export const JSON_PATCH = PatchStrategy.JsonPatch;
export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export { describeApiError, ignoreNotFound, isConflict, isNotFound } from "../kube-errors.js";

/** A JSON patch operation; paths escape "/" and "~" as RFC 6901 says. */
export type PatchOperation =
  | { op: "add" | "replace"; path: string; value: unknown }
  | { op: "remove"; path: string };

export const pointer = (...segments: string[]) =>
  `/${segments.map((segment) => segment.replaceAll("~", "~0").replaceAll("/", "~1")).join("/")}`;
