// The local kubelet's pure half: what a pod's container runs (command line, environment, user, mounts)
// and how it is probed, decided from the pod spec and the image configuration as a kubelet decides it.
// Whatever a kubelet would do and this one cannot is refused with a message naming the field.
import type { V1Container, V1Pod, V1Probe } from "@kubernetes/client-node";
import type { ImageConfig } from "./image.js";

export interface PodContext {
  podIP: string;
  nodeName: string;
  /** Where the pod reaches the apiserver (KUBERNETES_SERVICE_HOST/PORT). */
  apiserverHost: string;
  apiserverPort: number;
}

export interface Mount {
  volume: string;
  mountPath: string;
  readOnly: boolean;
  subPath?: string;
}

export interface HttpProbe {
  scheme: "HTTP" | "HTTPS";
  port: number;
  path: string;
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export interface ContainerPlan {
  name: string;
  argv: string[];
  env: [string, string][];
  workingDir: string;
  uid: number;
  gid: number;
  readOnlyRootFilesystem: boolean;
  mounts: Mount[];
  readiness?: HttpProbe;
  liveness?: HttpProbe;
}

/**
 * Kubernetes' `$(VAR)` expansion of command, args and env values: a defined variable is replaced,
 * `$$` stands for `$`, anything else is kept as written.
 */
export function expandVariables(text: string, env: ReadonlyMap<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === "$$") return "$";
    return name !== undefined && env.has(name) ? (env.get(name) as string) : match;
  });
}

function fieldValue(pod: V1Pod, path: string, context: PodContext): string {
  const values: Record<string, string | undefined> = {
    "metadata.name": pod.metadata?.name,
    "metadata.namespace": pod.metadata?.namespace,
    "metadata.uid": pod.metadata?.uid,
    "spec.nodeName": context.nodeName,
    "spec.serviceAccountName": pod.spec?.serviceAccountName,
    "status.podIP": context.podIP,
    "status.podIPs": context.podIP,
    "status.hostIP": context.podIP,
  };
  const value = values[path];
  if (value === undefined) throw new Error(`fieldRef ${path} is not served by the local kubelet`);
  return value;
}

function containerEnv(pod: V1Pod, container: V1Container, image: ImageConfig, context: PodContext) {
  const env = new Map<string, string>(image.env);
  // containerd's default for a user without a passwd entry.
  env.set("HOME", "/");
  env.set("HOSTNAME", pod.metadata?.name ?? "");
  env.set("KUBERNETES_SERVICE_HOST", context.apiserverHost);
  env.set("KUBERNETES_SERVICE_PORT", String(context.apiserverPort));
  if (container.envFrom?.length) throw new Error(`container ${container.name}: envFrom is not supported`);
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    if (!from) env.set(variable.name, expandVariables(variable.value ?? "", env));
    else if (from.fieldRef) env.set(variable.name, fieldValue(pod, from.fieldRef.fieldPath, context));
    else
      throw new Error(
        `container ${container.name}: env ${variable.name} takes valueFrom other than fieldRef`,
      );
  }
  return env;
}

function numericId(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`${what} ${JSON.stringify(text)} is not numeric`);
  return Number(text);
}

function probe(container: V1Container, spec: V1Probe | undefined): HttpProbe | undefined {
  if (!spec) return undefined;
  const get = spec.httpGet;
  if (!get) throw new Error(`container ${container.name}: only httpGet probes are supported`);
  const port =
    typeof get.port === "number"
      ? get.port
      : /^\d+$/.test(String(get.port))
        ? Number(get.port)
        : container.ports?.find((candidate) => candidate.name === get.port)?.containerPort;
  if (port === undefined)
    throw new Error(`container ${container.name}: probe port ${String(get.port)} names no container port`);
  return {
    scheme: get.scheme === "HTTPS" ? "HTTPS" : "HTTP",
    port,
    path: get.path ?? "/",
    initialDelayMs: (spec.initialDelaySeconds ?? 0) * 1000,
    periodMs: (spec.periodSeconds ?? 10) * 1000,
    timeoutMs: (spec.timeoutSeconds ?? 1) * 1000,
    successThreshold: spec.successThreshold ?? 1,
    failureThreshold: spec.failureThreshold ?? 3,
  };
}

/**
 * What the one container of `pod` runs, or an error naming what the local kubelet cannot honour. Init
 * containers, several containers and probes other than httpGet are refused, not ignored.
 */
export function planContainer(pod: V1Pod, image: ImageConfig, context: PodContext): ContainerPlan {
  const spec = pod.spec;
  if (!spec) throw new Error("the pod has no spec");
  if (spec.initContainers?.length) throw new Error("init containers are not supported");
  if (spec.containers.length !== 1) throw new Error("exactly one container is supported");
  const container = spec.containers[0] as V1Container;
  const env = containerEnv(pod, container, image, context);
  const expand = (words: string[]) => words.map((word) => expandVariables(word, env));
  const argv = container.command
    ? [...expand(container.command), ...expand(container.args ?? [])]
    : [...image.entrypoint, ...(container.args ? expand(container.args) : image.cmd)];
  if (argv.length === 0) throw new Error(`container ${container.name}: nothing to run`);

  const [imageUser = "0", imageGroup] = image.user.split(":");
  const podSecurity = spec.securityContext ?? {};
  const security = container.securityContext ?? {};
  const uid = security.runAsUser ?? podSecurity.runAsUser ?? numericId(imageUser, "image USER");
  const gid =
    security.runAsGroup ??
    podSecurity.runAsGroup ??
    (imageGroup ? numericId(imageGroup, "image group") : uid);
  if ((security.runAsNonRoot ?? podSecurity.runAsNonRoot) && uid === 0)
    throw new Error(`container ${container.name}: container has runAsNonRoot and image will run as root`);
  if (security.privileged)
    throw new Error(`container ${container.name}: privileged containers are not supported`);

  const volumes = new Set((spec.volumes ?? []).map((volume) => volume.name));
  const mounts = (container.volumeMounts ?? []).map((mount): Mount => {
    if (!volumes.has(mount.name)) throw new Error(`volumeMount ${mount.name} names no volume of the pod`);
    if (!mount.mountPath.startsWith("/"))
      throw new Error(`volumeMount ${mount.name}: mountPath must be absolute`);
    return {
      volume: mount.name,
      mountPath: mount.mountPath,
      readOnly: mount.readOnly === true,
      ...(mount.subPath ? { subPath: mount.subPath } : {}),
    };
  });
  const readiness = probe(container, container.readinessProbe);
  const liveness = probe(container, container.livenessProbe);
  return {
    name: container.name,
    argv,
    env: [...env],
    workingDir: container.workingDir ?? image.workingDir,
    uid,
    gid,
    readOnlyRootFilesystem: security.readOnlyRootFilesystem === true,
    mounts,
    ...(readiness ? { readiness } : {}),
    ...(liveness ? { liveness } : {}),
  };
}
