// A local kubelet for serin's own image, so that the chart's pods really run on the local cluster. It
// registers Nodes of its own (tainted, so that only pods that tolerate it land there), keeps their Leases,
// and runs each pod bound to them as pod-runtime.ts describes: the image's command as a process, in a
// network namespace with its own address, its volumes at their mountPaths, probed as its readiness and
// liveness probes say, its status written as a kubelet writes it, killed when the pod is deleted. Pods of
// any other image get ErrImagePull: nothing else can run here.
import { readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { request as plainRequest } from "node:http";
import { request } from "node:https";
import type { Server } from "node:net";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { ApiException } from "@kubernetes/client-node";
import { RawJsonClient } from "../watch/raw-json.js";
import type { ControlPlane } from "./control-plane.js";
import { type ImageConfig, layOutImageFiles, serinImageConfig } from "./image.js";
import { type ContainerPlan, type HttpProbe, planContainer } from "./pod-plan.js";
import { type Sandbox, startApiserverRelay, startContainer, startSandbox } from "./pod-runtime.js";
import { forgetTempDir, removeOnExit, type ServerProcess, startOrphanGuard } from "./processes.js";
import { prepareVolumes, refreshVolumes, type VolumeVersions } from "./volumes.js";

/** The label and taint of the local kubelet's Nodes; the chart's pods get there with nodeSelector and tolerations. */
export const LOCAL_KUBELET_LABEL = "serin.dev/local-kubelet";

export interface LocalKubeletOptions {
  /** Nodes to register; default 2, so that spreading over nodes can be seen. */
  nodes?: number;
  /** The image reference it runs, e.g. "serin:0.1.0" (the chart's default repository and appVersion). */
  image: string;
  /**
   * How often the Secret and ConfigMap volumes of running pods are compared with their objects and
   * rewritten when these changed (a kubelet: about a minute); default 10 s.
   */
  volumeSyncMs?: number;
}

export interface LocalKubelet {
  readonly nodeNames: string[];
  /** The nodeSelector and tolerations that put a pod on these Nodes. */
  readonly placement: { nodeSelector: Record<string, string>; tolerations: object[] };
  /** The output of a pod's container, for failing tests. */
  containerLog(namespace: string, pod: string): string;
  stop(): Promise<void>;
}

interface RunningPod {
  uid: string;
  namespace: string;
  name: string;
  dir: string;
  sandbox?: Sandbox;
  container?: ServerProcess;
  plan?: ContainerPlan;
  restarts: number;
  ready: boolean;
  startedAt?: string;
  finished?: { exitCode: number; reason: string; at: string };
  stopping?: Promise<void>;
  lastStatus?: string;
  /** What its Secret and ConfigMap volumes hold, and when they were last compared with their objects. */
  volumeVersions: VolumeVersions;
  volumesSyncedAt: number;
}

/** How long a pod waits for the Secrets and ConfigMaps of its volumes to exist, as ContainerCreating. */
const VOLUME_WAIT_MS = 120_000;

const segment = encodeURIComponent;
const now = () => new Date().toISOString();

/** One HTTP(S) GET of a probe: 200-399 within the timeout is a success; the certificate is not checked. */
function probeOnce(podIP: string, probe: HttpProbe): Promise<boolean> {
  return new Promise((resolve) => {
    const send = probe.scheme === "HTTPS" ? request : plainRequest;
    const req = send(
      {
        host: podIP,
        port: probe.port,
        path: probe.path,
        method: "GET",
        timeout: probe.timeoutMs,
        rejectUnauthorized: false,
      },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

export async function startLocalKubelet(
  cp: ControlPlane,
  options: LocalKubeletOptions,
): Promise<LocalKubelet> {
  const dir = join(cp.dir, "local-kubelet");
  await mkdir(dir, { recursive: true });
  removeOnExit(dir);
  const stopGuard = startOrphanGuard(dir);
  const client = new RawJsonClient(cp.kubeConfig(), "local-kubelet");
  const image: ImageConfig = await serinImageConfig();
  const imageDir = join(dir, "image");
  await layOutImageFiles(imageDir);
  const apiserverPort = Number(new URL(cp.server).port);
  const relaySocket = join(dir, "apiserver.sock");
  const relay: Server = await startApiserverRelay(relaySocket, apiserverPort);
  const nodeNames = Array.from({ length: options.nodes ?? 2 }, (_, index) => `local-node-${index}`);
  const pods = new Map<string, RunningPod>();
  const volumeSyncMs = options.volumeSyncMs ?? 10_000;
  let stopped = false;

  const patch = (path: string, body: unknown) =>
    client.send("PATCH", path, body, "application/merge-patch+json");

  // Nodes: created once, then kept Ready by their Leases (the node lifecycle controller reads them).
  for (const name of nodeNames) {
    await client.send("POST", "/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        labels: {
          "kubernetes.io/hostname": name,
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": "amd64",
          [LOCAL_KUBELET_LABEL]: "true",
        },
      },
      spec: { taints: [{ key: LOCAL_KUBELET_LABEL, value: "true", effect: "NoSchedule" }] },
    });
  }
  // Each Node's status and Lease, renewed on its own: one failed write must not starve the other Node.
  const heartbeatNode = async (name: string) => {
    const time = now();
    await patch(`/api/v1/nodes/${name}/status`, {
      status: {
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "KubeletReady",
            message: "the local kubelet is posting ready status",
            lastHeartbeatTime: time,
            lastTransitionTime: time,
          },
        ],
        capacity: { cpu: "2", memory: "8Gi", pods: "110" },
        allocatable: { cpu: "2", memory: "8Gi", pods: "110" },
        addresses: [{ type: "Hostname", address: name }],
        nodeInfo: {
          kubeletVersion: `v${cp.kubernetesVersion}.0`,
          operatingSystem: "linux",
          architecture: "amd64",
        },
      },
    });
    const spec = {
      holderIdentity: name,
      leaseDurationSeconds: 40,
      renewTime: new Date().toISOString().replace("Z", "000Z"),
    };
    const leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
    try {
      await patch(`${leases}/${name}`, { spec });
    } catch (error) {
      if (!(error instanceof ApiException) || error.code !== 404) throw error;
      await client.send("POST", leases, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace: "kube-node-lease" },
        spec,
      });
    }
  };
  const heartbeat = () =>
    Promise.all(nodeNames.map((name) => heartbeatNode(name).catch(() => {}))).then(() => undefined);
  await heartbeat();
  const heartbeats = setInterval(() => void heartbeat(), 10_000);

  const statusOf = (pod: V1Pod, running: RunningPod): Record<string, unknown> => {
    const container = pod.spec?.containers[0];
    const scheduled = { type: "PodScheduled", status: "True" };
    const condition = (type: string, on: boolean) => ({
      type,
      status: on ? "True" : "False",
      lastTransitionTime: now(),
    });
    const finished = running.finished;
    const phase = finished
      ? finished.exitCode === 0
        ? "Succeeded"
        : "Failed"
      : running.container
        ? "Running"
        : "Pending";
    const state = finished
      ? {
          terminated: {
            exitCode: finished.exitCode,
            reason: finished.reason,
            finishedAt: finished.at,
            startedAt: running.startedAt,
          },
        }
      : running.container
        ? { running: { startedAt: running.startedAt } }
        : { waiting: { reason: "ContainerCreating" } };
    return {
      status: {
        phase,
        hostIP: running.sandbox?.podIP,
        podIP: running.sandbox?.podIP,
        podIPs: running.sandbox ? [{ ip: running.sandbox.podIP }] : undefined,
        startTime: running.startedAt,
        conditions: [
          scheduled,
          condition("Initialized", true),
          condition("PodReadyToStartContainers", running.sandbox !== undefined),
          condition("ContainersReady", running.ready),
          condition("Ready", running.ready),
        ],
        containerStatuses: [
          {
            name: container?.name,
            image: container?.image,
            imageID: `local://${options.image}`,
            ready: running.ready,
            started: running.container !== undefined,
            restartCount: running.restarts,
            state,
          },
        ],
      },
    };
  };

  const writeStatus = async (pod: V1Pod, running: RunningPod, body?: Record<string, unknown>) => {
    const status = body ?? statusOf(pod, running);
    const key = JSON.stringify(status, (k, v) => (k === "lastTransitionTime" ? undefined : v));
    if (key === running.lastStatus) return;
    await patch(
      `/api/v1/namespaces/${segment(running.namespace)}/pods/${segment(running.name)}/status`,
      status,
    );
    running.lastStatus = key;
  };

  const waiting = (pod: V1Pod, reason: string, message: string) => ({
    status: {
      phase: "Pending",
      conditions: [
        { type: "PodScheduled", status: "True" },
        { type: "Ready", status: "False", reason: "ContainersNotReady" },
      ],
      containerStatuses: [
        {
          name: pod.spec?.containers[0]?.name,
          image: pod.spec?.containers[0]?.image,
          imageID: "",
          ready: false,
          restartCount: 0,
          state: { waiting: { reason, message } },
        },
      ],
    },
  });

  const kill = async (running: RunningPod, graceMs: number) => {
    await running.container?.stop(graceMs);
    await running.sandbox?.stop();
  };

  const startProcess = async (pod: V1Pod, running: RunningPod) => {
    const plan = running.plan as ContainerPlan;
    const volumeDirs = await prepareVolumesPatiently(pod, running);
    const container = await startContainer({
      sandbox: running.sandbox as Sandbox,
      plan,
      podDir: running.dir,
      imageDir,
      imageWorkingDir: image.workingDir,
      volumeDirs,
      run: running.restarts,
      pidFile: join(dir, `${running.uid}-container.pid`),
    });
    running.container = container;
    running.startedAt ??= now();
    running.ready = false;
    container.child.once("exit", (code, signal) => {
      if (running.stopping || stopped) return;
      running.container = undefined;
      running.ready = false;
      const exitCode = code ?? 128 + (signal === "SIGKILL" ? 9 : 15);
      const restartPolicy = pod.spec?.restartPolicy ?? "Always";
      if (restartPolicy === "Always" || (restartPolicy === "OnFailure" && exitCode !== 0)) {
        running.restarts += 1;
        setTimeout(
          () => void startProcess(pod, running).catch(() => {}),
          Math.min(10_000, 1000 * running.restarts),
        );
      } else {
        running.finished = { exitCode, reason: exitCode === 0 ? "Completed" : "Error", at: now() };
      }
      void writeStatus(pod, running).catch(() => {});
    });
    void probeLoop(pod, running, container);
  };

  // A volume's Secret or ConfigMap may not exist yet (cert-manager writes it moments after the pod is
  // created): the pod waits in ContainerCreating, as with a kubelet, for a bounded time.
  const prepareVolumesPatiently = async (pod: V1Pod, running: RunningPod) => {
    const deadline = Date.now() + VOLUME_WAIT_MS;
    for (;;) {
      try {
        const dirs = await prepareVolumes(client, pod, running.dir, running.volumeVersions);
        running.volumesSyncedAt = Date.now();
        return dirs;
      } catch (error) {
        if (running.stopping || stopped || Date.now() > deadline) throw error;
        await writeStatus(pod, running, waiting(pod, "ContainerCreating", (error as Error).message)).catch(
          () => {},
        );
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  };

  const probeLoop = async (pod: V1Pod, running: RunningPod, container: ServerProcess) => {
    const plan = running.plan as ContainerPlan;
    const podIP = (running.sandbox as Sandbox).podIP;
    const started = Date.now();
    let readyStreak = 0;
    let failStreak = 0;
    let liveFails = 0;
    const readiness = plan.readiness;
    const liveness = plan.liveness;
    if (!readiness) running.ready = true;
    await writeStatus(pod, running).catch(() => {});
    let nextReadiness = started + (readiness?.initialDelayMs ?? 0);
    let nextLiveness = started + (liveness?.initialDelayMs ?? 0);
    while (running.container === container && !running.stopping && !stopped) {
      const time = Date.now();
      if (readiness && time >= nextReadiness) {
        nextReadiness = time + readiness.periodMs;
        if (await probeOnce(podIP, readiness)) {
          failStreak = 0;
          readyStreak += 1;
          if (readyStreak >= readiness.successThreshold) running.ready = true;
        } else {
          readyStreak = 0;
          failStreak += 1;
          if (failStreak >= readiness.failureThreshold || !running.ready) running.ready = false;
        }
        if (running.container === container) await writeStatus(pod, running).catch(() => {});
      }
      if (liveness && time >= nextLiveness) {
        nextLiveness = time + liveness.periodMs;
        liveFails = (await probeOnce(podIP, liveness)) ? 0 : liveFails + 1;
        // A kubelet kills a container that fails its liveness probe; the exit handler restarts it.
        if (liveFails >= liveness.failureThreshold) {
          await container.stop((pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  const startPod = async (pod: V1Pod, running: RunningPod) => {
    const container = pod.spec?.containers[0];
    if (pod.spec?.containers.length !== 1 || container?.image !== options.image) {
      await writeStatus(
        pod,
        running,
        waiting(pod, "ErrImagePull", `the local kubelet runs ${options.image} only, as a process`),
      );
      return;
    }
    await mkdir(running.dir, { recursive: true });
    running.sandbox = await startSandbox({
      hostname: running.name,
      relaySocket,
      apiserverPort,
      pidFile: join(dir, `${running.uid}-sandbox.pid`),
      logFile: join(running.dir, "sandbox.log"),
    });
    try {
      running.plan = planContainer(pod, image, {
        podIP: running.sandbox.podIP,
        nodeName: pod.spec?.nodeName ?? "",
        apiserverHost: "127.0.0.1",
        apiserverPort,
      });
    } catch (error) {
      await writeStatus(pod, running, waiting(pod, "CreateContainerConfigError", (error as Error).message));
      return;
    }
    await startProcess(pod, running);
  };

  const stopPod = (running: RunningPod, graceMs: number, deleteObject: boolean) => {
    running.stopping ??= (async () => {
      await kill(running, graceMs);
      if (deleteObject) {
        // The kubelet's final delete: the pod's processes are gone, the object may go.
        await client
          .send("DELETE", `/api/v1/namespaces/${segment(running.namespace)}/pods/${segment(running.name)}`, {
            apiVersion: "v1",
            kind: "DeleteOptions",
            gracePeriodSeconds: 0,
            preconditions: { uid: running.uid },
          })
          .catch(() => {});
      }
      pods.delete(running.uid);
      await rm(running.dir, { recursive: true, force: true }).catch(() => {});
    })();
    return running.stopping;
  };

  const sync = async () => {
    const seen = new Set<string>();
    for (const node of nodeNames) {
      const list = await client.send<{ items: V1Pod[] }>(
        "GET",
        `/api/v1/pods?fieldSelector=${segment(`spec.nodeName=${node}`)}`,
      );
      for (const pod of list.items) {
        const uid = pod.metadata?.uid ?? "";
        seen.add(uid);
        let running = pods.get(uid);
        if (pod.metadata?.deletionTimestamp) {
          const graceMs = (pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000;
          if (!running) {
            running = {
              uid,
              namespace: pod.metadata.namespace ?? "",
              name: pod.metadata.name ?? "",
              dir: join(dir, uid),
              restarts: 0,
              ready: false,
              volumeVersions: new Map(),
              volumesSyncedAt: 0,
            };
            pods.set(uid, running);
          }
          void stopPod(running, graceMs, true);
          continue;
        }
        if (running?.container && !running.stopping && Date.now() - running.volumesSyncedAt >= volumeSyncMs) {
          running.volumesSyncedAt = Date.now();
          await refreshVolumes(client, pod, running.dir, running.volumeVersions).catch(() => {});
        }
        if (running || pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") continue;
        running = {
          uid,
          namespace: pod.metadata?.namespace ?? "",
          name: pod.metadata?.name ?? "",
          dir: join(dir, uid),
          restarts: 0,
          ready: false,
          volumeVersions: new Map(),
          volumesSyncedAt: 0,
        };
        pods.set(uid, running);
        const started = running;
        void startPod(pod, started).catch(async (error: unknown) => {
          await writeStatus(
            pod,
            started,
            waiting(pod, "CreateContainerError", (error as Error).message),
          ).catch(() => {});
        });
      }
    }
    // Gone from the apiserver (force-deleted): the processes go too.
    for (const running of pods.values()) if (!seen.has(running.uid)) void stopPod(running, 0, false);
  };

  let syncing: Promise<void> = Promise.resolve();
  const loop = setInterval(() => {
    syncing = syncing.then(() => (stopped ? undefined : sync().catch(() => {})));
  }, 500);

  const kubelet: LocalKubelet = {
    nodeNames,
    placement: {
      nodeSelector: { [LOCAL_KUBELET_LABEL]: "true" },
      tolerations: [{ key: LOCAL_KUBELET_LABEL, operator: "Equal", value: "true", effect: "NoSchedule" }],
    },
    containerLog(namespace, name) {
      for (const running of pods.values())
        if (running.namespace === namespace && running.name === name) {
          try {
            return readFileSync(join(running.dir, `${running.plan?.name}.log`), "utf8");
          } catch {
            return "";
          }
        }
      return "";
    },
    async stop() {
      stopped = true;
      clearInterval(loop);
      clearInterval(heartbeats);
      await syncing;
      await Promise.all([...pods.values()].map((running) => stopPod(running, 0, false)));
      relay.close();
      stopGuard();
      await rm(dir, { recursive: true, force: true });
      forgetTempDir(dir);
    },
  };
  cp.onStop(() => kubelet.stop());
  return kubelet;
}
