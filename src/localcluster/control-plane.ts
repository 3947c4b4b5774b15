// A local cluster on loopback ports, in a temp dir of its own: real etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler, and kwok keeping one fake Node and its pods Ready. Each
// component has its own certificate identity, so RBAC is enforced as in a real cluster. serin's demo and
// end-to-end tests run on it.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { type ControlPlaneBinaries, loadBinaries, pathsEnvFile } from "./binaries.js";
import { startControllerManager, startScheduler } from "./controllers.js";
import { httpGet, type RawResponse } from "./http.js";
import { KWOK_NODE, KWOK_NODE_ANNOTATION, kwokConfig, kwokNode, kwokRbac } from "./kwok.js";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  issueClientCertificate,
  issueServingCertificate,
  type KeyAndCert,
  rsaPrivateKeyPem,
} from "./pki.js";
import {
  type CommandResult,
  forgetTempDir,
  freePort,
  removeOnExit,
  runCommand,
  type ServerProcess,
  spawnServer,
  startOrphanGuard,
  tailFile,
  waitFor,
} from "./processes.js";

export type { RawResponse } from "./http.js";
export type { CommandResult } from "./processes.js";

export interface CommandOptions {
  input?: string;
  /** A kubeconfig file other than the admin's, e.g. from `kubeconfigFor`. */
  kubeconfig?: string;
  timeoutMs?: number;
}

export interface ControlPlane {
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  /** The Kubernetes minor running, such as "1.34". */
  readonly kubernetesVersion: string;
  /** The binaries it runs, and those of the components a test may add (cert-manager). */
  readonly binaries: ControlPlaneBinaries;
  /** The apiserver's audit log (JSON lines, one per request), when started with `auditLog`. */
  readonly auditLogFile: string | undefined;
  /** The temp dir holding certificates, kubeconfigs, etcd data and logs; removed by `stop()`. */
  readonly dir: string;
  /** Path of the admin kubeconfig (CN=admin, O=system:masters). */
  readonly adminKubeconfig: string;
  /** PEM of the CA that signed the apiserver's serving certificate. */
  readonly caCert: string;
  readonly apiserverLogFile: string;
  /** Writes a kubeconfig for an ordinary user (a client certificate with CN=user, O=groups); returns its path. */
  kubeconfigFor(user: string, groups?: readonly string[]): Promise<string>;
  /** Writes a kubeconfig that authenticates as the service account NAMESPACE/NAME; returns its path. */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  /** A client-node KubeConfig for the admin, or for the kubeconfig file given. */
  kubeConfig(kubeconfig?: string): KubeConfig;
  /** `kubectl` from the PATH with `--kubeconfig` (the admin's unless given). */
  kubectl(args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /** The cached helm 3 or 4 binary with `--kubeconfig`, its cache/config/data homes under `dir`. */
  helm(major: 3 | 4, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /** GET `path` on the apiserver as admin, without any client library in between. */
  get(path: string, headers?: Record<string, string>): Promise<RawResponse>;
  /** Runs `cleanup` at the start of `stop()`, latest first: for what tests start against this control plane. */
  onStop(cleanup: () => Promise<void>): void;
  /** Runs the `onStop` cleanups, kills kube-apiserver and etcd, waits until they are gone and removes `dir`. */
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** How long kube-apiserver may take to report ready; default 90 s. */
  readyTimeoutMs?: number;
  /** Keep `dir` (logs, etcd data) after `stop()` and at exit, for debugging (a SIGKILLed test still loses it). */
  keepDir?: boolean;
  /** The Kubernetes minor to run (one that the build script built); default the build's default. */
  kubernetesVersion?: string;
  /** Where the build script cached the binaries; default ~/.cache/serin. */
  cacheRoot?: string;
  /**
   * Record requests in an audit log (user, verb, resource), for counting who writes what: every write, and
   * the reads too of the users listed.
   */
  auditLog?: boolean | { readsOf: readonly string[] };
  /**
   * The controller manager's client rate. Its default (20 requests a second) is what a small cluster
   * runs; a benchmark with a thousand Deployments raises it as large clusters do.
   */
  controllerManagerQps?: number;
  /**
   * Webhook and aggregated-API calls go to a Service's endpoints (a pod's address) instead of its
   * ClusterIP, which nothing here routes (--enable-aggregator-routing): for the local kubelet's pods,
   * which answer at their own addresses.
   */
  endpointRouting?: boolean;
  /** kube-apiserver --feature-gates, e.g. to serve an alpha field of the pod template. */
  featureGates?: Record<string, boolean>;
}

interface Pki {
  servingCa: CertificateAuthority;
  serving: KeyAndCert;
  clientCa: CertificateAuthority;
  admin: KeyAndCert;
  serviceAccountKey: string;
}

async function createPki(): Promise<Pki> {
  const [servingCa, clientCa, serviceAccountKey] = await Promise.all([
    createCertificateAuthority("serin-e2e-serving-ca"),
    createCertificateAuthority("serin-e2e-client-ca"),
    rsaPrivateKeyPem(),
  ]);
  const [serving, admin] = await Promise.all([
    issueServingCertificate(servingCa, ["127.0.0.1", "localhost"]),
    issueClientCertificate(clientCa, "admin", ["system:masters"]),
  ]);
  return { servingCa, serving, clientCa, admin, serviceAccountKey };
}

const base64 = (pem: string) => Buffer.from(pem).toString("base64");

function kubeconfigYaml(server: string, caCert: string, user: string, credentials: KeyAndCert): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "serin-e2e", cluster: { server, "certificate-authority-data": base64(caCert) } }],
    users: [
      {
        name: user,
        user: {
          "client-certificate-data": base64(credentials.certPem),
          "client-key-data": base64(credentials.keyPem),
        },
      },
    ],
    contexts: [{ name: "serin-e2e", context: { cluster: "serin-e2e", user, namespace: "default" } }],
    "current-context": "serin-e2e",
  });
}

const ADDRESS_IN_USE = /address already in use|bind: address/i;

function earlyExitError(server: ServerProcess): Error | undefined {
  const exit = server.exited();
  if (!exit) return undefined;
  const how = exit.error ?? `exited with ${exit.signal ?? `code ${exit.code}`}`;
  return new Error(
    `${server.name} ${how} before it was ready; last lines of ${server.logFile}:\n${tailFile(server.logFile)}`,
  );
}

/** Starts a server on fresh free ports, again if another process took a port between pick and bind. */
async function startOnFreePorts<T>(
  portCount: number,
  start: (ports: number[], attempt: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const ports = await Promise.all(Array.from({ length: portCount }, () => freePort()));
    try {
      return await start(ports, attempt);
    } catch (error) {
      if (attempt >= 3 || !ADDRESS_IN_USE.test((error as Error).message)) throw error;
    }
  }
}

async function startEtcd(
  binaries: ControlPlaneBinaries,
  dir: string,
): Promise<{ server: ServerProcess; url: string }> {
  return startOnFreePorts(2, async ([clientPort, peerPort], attempt) => {
    const clientUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcd = spawnServer(
      "etcd",
      binaries.etcd,
      [
        "--name=serin-e2e",
        `--data-dir=${join(dir, `etcd-data-${attempt}`)}`,
        `--listen-client-urls=${clientUrl}`,
        `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=serin-e2e=${peerUrl}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
      { logFile: join(dir, "etcd.log"), pidFile: join(dir, "etcd.pid") },
    );
    try {
      await waitFor(
        async () => ((await httpGet(`${clientUrl}/health`)).body.includes('"true"') ? true : undefined),
        { timeoutMs: 30_000, what: `etcd at ${clientUrl}` },
        () => {
          const error = earlyExitError(etcd);
          if (error) throw error;
        },
      );
    } catch (error) {
      await etcd.stop(0);
      throw error;
    }
    return { server: etcd, url: clientUrl };
  });
}

async function startApiserver(
  binaries: ControlPlaneBinaries,
  dir: string,
  etcdUrl: string,
  pki: Pki,
  readyTimeoutMs: number,
  options: ControlPlaneOptions,
): Promise<{ server: ServerProcess; url: string }> {
  const audit = options.auditLog
    ? await auditFlags(dir, options.auditLog === true ? [] : options.auditLog.readsOf)
    : [];
  const gates = Object.entries(options.featureGates ?? {}).map(([gate, on]) => `${gate}=${on}`);
  const files = {
    servingCert: join(dir, "apiserver.crt"),
    servingKey: join(dir, "apiserver.key"),
    clientCa: join(dir, "client-ca.crt"),
    serviceAccountKey: join(dir, "sa.key"),
  };
  await Promise.all([
    writeFile(files.servingCert, pki.serving.certPem),
    writeFile(files.servingKey, pki.serving.keyPem, { mode: 0o600 }),
    writeFile(files.clientCa, pki.clientCa.certPem),
    writeFile(files.serviceAccountKey, pki.serviceAccountKey, { mode: 0o600 }),
  ]);
  const tls = { ca: pki.servingCa.certPem, cert: pki.admin.certPem, key: pki.admin.keyPem };
  return startOnFreePorts(1, async ([port]) => {
    const url = `https://127.0.0.1:${port}`;
    const apiserver = spawnServer(
      "kube-apiserver",
      binaries.kubeApiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        `--secure-port=${port}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        // A loopback advertise address is invalid in the `kubernetes` Endpoints; nothing here needs them.
        "--endpoint-reconciler-type=none",
        `--cert-dir=${join(dir, "apiserver-certs")}`,
        `--tls-cert-file=${files.servingCert}`,
        `--tls-private-key-file=${files.servingKey}`,
        `--client-ca-file=${files.clientCa}`,
        `--service-account-key-file=${files.serviceAccountKey}`,
        `--service-account-signing-key-file=${files.serviceAccountKey}`,
        `--service-account-issuer=${url}`,
        "--service-cluster-ip-range=10.0.0.0/16",
        "--authorization-mode=RBAC",
        ...(options.endpointRouting ? ["--enable-aggregator-routing=true"] : []),
        "--allow-privileged=true",
        ...audit,
        ...(gates.length > 0 ? [`--feature-gates=${gates.join(",")}`] : []),
      ],
      { logFile: join(dir, "kube-apiserver.log"), pidFile: join(dir, "kube-apiserver.pid") },
    );
    try {
      await waitFor(
        async () => {
          const { status, body } = await httpGet(`${url}/readyz`, tls);
          if (status === 200) return true;
          const failing = body.split("\n").filter((line) => line.startsWith("[-]"));
          throw new Error(`/readyz answered ${status}: ${failing.join(" ") || body.trim()}`);
        },
        { timeoutMs: readyTimeoutMs, intervalMs: 200, what: `kube-apiserver /readyz at ${url}` },
        () => {
          const error = earlyExitError(apiserver);
          if (error) throw error;
        },
      );
    } catch (error) {
      await apiserver.stop(0);
      const message = (error as Error).message;
      // An early exit already carries the log; a timeout gets it here.
      if (message.includes(apiserver.logFile)) throw error;
      throw new Error(`${message}\nlast lines of ${apiserver.logFile}:\n${tailFile(apiserver.logFile)}`);
    }
    return { server: apiserver, url };
  });
}

/**
 * Metadata of every request that is not a read (reads would drown the log), and of every request of the
 * users in `readsOf`, for counting who asks what.
 */
async function auditFlags(dir: string, readsOf: readonly string[]): Promise<string[]> {
  const policy = join(dir, "audit-policy.yaml");
  await writeFile(
    policy,
    stringify({
      apiVersion: "audit.k8s.io/v1",
      kind: "Policy",
      omitStages: ["RequestReceived"],
      rules: [
        ...(readsOf.length > 0 ? [{ level: "Metadata", users: [...readsOf] }] : []),
        { level: "None", verbs: ["get", "list", "watch"] },
        { level: "Metadata", resources: [{ group: "coordination.k8s.io", resources: ["leases"] }] },
        { level: "Metadata" },
      ],
    }),
  );
  return [
    `--audit-policy-file=${policy}`,
    `--audit-log-path=${join(dir, "audit.log")}`,
    "--audit-log-format=json",
  ];
}

/** Client-certificate identities of the cluster's own components. */
const COMPONENT_USERS = {
  controllerManager: "system:kube-controller-manager",
  scheduler: "system:kube-scheduler",
  kwok: "kwok-controller",
} as const;

/**
 * Starts etcd and kube-apiserver, then kube-controller-manager, kube-scheduler and kwok with its Node,
 * and resolves once the apiserver is ready, the Node is Ready and the controllers are at work.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binaries = (await loadBinaries(pathsEnvFile(options.cacheRoot))).forVersion(
    options.kubernetesVersion,
  );
  const dir = await mkdtemp(join(tmpdir(), "serin-cp-"));
  if (!options.keepDir) removeOnExit(dir);
  const stopGuard = startOrphanGuard(dir);
  const servers: ServerProcess[] = [];
  const stopAll = async () => {
    for (const server of servers.reverse()) await server.stop();
    stopGuard();
    if (!options.keepDir) await rm(dir, { recursive: true, force: true });
    forgetTempDir(dir);
  };

  let pki: Pki;
  let server: string;
  try {
    pki = await createPki();
    const etcd = await startEtcd(binaries, dir);
    servers.push(etcd.server);
    const apiserver = await startApiserver(
      binaries,
      dir,
      etcd.url,
      pki,
      options.readyTimeoutMs ?? 90_000,
      options,
    );
    servers.push(apiserver.server);
    server = apiserver.url;
  } catch (error) {
    await stopAll();
    throw error;
  }

  const caCert = pki.servingCa.certPem;
  const adminKubeconfig = join(dir, "admin.kubeconfig");
  await writeFile(adminKubeconfig, kubeconfigYaml(server, caCert, "admin", pki.admin), { mode: 0o600 });

  let minted = 0;
  const mintKubeconfig = async (user: string, groups: readonly string[]) => {
    const credentials = await issueClientCertificate(pki.clientCa, user, groups);
    minted += 1;
    const file = join(dir, `user-${minted}-${user.replace(/[^A-Za-z0-9._-]/g, "_")}.kubeconfig`);
    await writeFile(file, kubeconfigYaml(server, caCert, user, credentials), { mode: 0o600 });
    return file;
  };

  const childEnv = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
    delete env.KUBECONFIG;
    return env;
  };

  const cleanups: (() => Promise<void>)[] = [];
  const stopEverything = async () => {
    const failures: unknown[] = [];
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => failures.push(error));
    await stopAll();
    if (failures.length > 0)
      throw new AggregateError(failures, "cleanup before stopping the control plane failed");
  };

  let stopping: Promise<void> | undefined;
  const cp: ControlPlane = {
    server,
    kubernetesVersion: binaries.kubernetesVersion,
    binaries,
    auditLogFile: options.auditLog ? join(dir, "audit.log") : undefined,
    dir,
    adminKubeconfig,
    caCert,
    apiserverLogFile: join(dir, "kube-apiserver.log"),
    kubeconfigFor: (user, groups = []) => mintKubeconfig(user, groups),
    serviceAccountKubeconfig: (namespace, name) =>
      mintKubeconfig(`system:serviceaccount:${namespace}:${name}`, [
        "system:serviceaccounts",
        `system:serviceaccounts:${namespace}`,
      ]),
    kubeConfig(kubeconfig = adminKubeconfig) {
      const config = new KubeConfig();
      config.loadFromFile(kubeconfig);
      return config;
    },
    kubectl(args, commandOptions = {}) {
      return runCommand("kubectl", ["--kubeconfig", commandOptions.kubeconfig ?? adminKubeconfig, ...args], {
        input: commandOptions.input,
        timeoutMs: commandOptions.timeoutMs,
        // A discovery cache per control plane: ports get reused, and a stale cache lies about APIs.
        env: childEnv({ KUBECACHEDIR: join(dir, "kubectl-cache") }),
      });
    },
    helm(major, args, commandOptions = {}) {
      const binary = major === 3 ? binaries.helm3 : binaries.helm4;
      if (!binary)
        return Promise.reject(
          new Error(`paths.env names no HELM${major}: rerun scripts/build-controlplane.sh`),
        );
      const home = join(dir, `helm${major}`);
      return runCommand(binary, ["--kubeconfig", commandOptions.kubeconfig ?? adminKubeconfig, ...args], {
        input: commandOptions.input,
        timeoutMs: commandOptions.timeoutMs,
        env: childEnv({
          HELM_CACHE_HOME: join(home, "cache"),
          HELM_CONFIG_HOME: join(home, "config"),
          HELM_DATA_HOME: join(home, "data"),
        }),
      });
    },
    get: (path, headers) =>
      httpGet(`${server}${path}`, { ca: caCert, cert: pki.admin.certPem, key: pki.admin.keyPem }, headers),
    onStop(cleanup) {
      cleanups.push(cleanup);
    },
    stop() {
      stopping ??= stopEverything();
      return stopping;
    },
  };
  try {
    await startComponents(cp, binaries, pki, mintKubeconfig, (started) => servers.push(started), options);
  } catch (error) {
    await cp.stop();
    throw error;
  }
  return cp;
}

/**
 * kube-controller-manager, kube-scheduler and kwok, each under its own identity; resolves once kwok's Node
 * is Ready and the service-account controller has given `default` its ServiceAccount.
 */
async function startComponents(
  cp: ControlPlane,
  binaries: ControlPlaneBinaries,
  pki: Pki,
  mintKubeconfig: (user: string, groups: readonly string[]) => Promise<string>,
  track: (server: ServerProcess) => void,
  options: ControlPlaneOptions,
): Promise<void> {
  const dir = cp.dir;
  const rootCa = join(dir, "root-ca.crt");
  const stagesConfig = join(dir, "kwok.yaml");
  const [controllerManagerKubeconfig, schedulerKubeconfig, kwokKubeconfig] = await Promise.all([
    mintKubeconfig(COMPONENT_USERS.controllerManager, []),
    mintKubeconfig(COMPONENT_USERS.scheduler, []),
    mintKubeconfig(COMPONENT_USERS.kwok, []),
    writeFile(rootCa, pki.servingCa.certPem),
    kwokConfig(binaries.kwokStages).then((text) => writeFile(stagesConfig, text)),
  ]);
  const setup = await cp.kubectl(["apply", "-f", "-"], {
    input: `${kwokRbac(COMPONENT_USERS.kwok)}${kwokNode()}\n`,
  });
  if (setup.code !== 0) throw new Error(`creating kwok's RBAC and Node failed: ${setup.stderr.trim()}`);

  const files = {
    dir,
    controllerManagerKubeconfig: controllerManagerKubeconfig as string,
    schedulerKubeconfig: schedulerKubeconfig as string,
    serviceAccountKey: join(dir, "sa.key"),
    rootCa,
    ...(options.controllerManagerQps ? { controllerManagerQps: options.controllerManagerQps } : {}),
  };
  const components = [
    startControllerManager(binaries, files),
    startScheduler(binaries, files),
    spawnServer(
      "kwok",
      binaries.kwok,
      [
        `--kubeconfig=${kwokKubeconfig}`,
        `--config=${stagesConfig}`,
        "--manage-all-nodes=false",
        `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
        "--cidr=10.244.0.0/16",
        "--node-ip=10.200.0.10",
        // The Node stays Ready by its Lease, renewed by kwok as a kubelet renews it; without one the
        // node-lifecycle controller marks the Node, and every pod on it, NotReady after a minute or two.
        "--node-lease-duration-seconds=40",
        "--v=1",
      ],
      { logFile: join(dir, "kwok.log"), pidFile: join(dir, "kwok.pid") },
    ),
  ];
  for (const component of components) track(component);
  const exitedEarly = () => {
    for (const component of components) {
      const error = earlyExitError(component);
      if (error) throw error;
    }
  };
  await waitFor(
    async () => {
      const node = await cp.get(`/api/v1/nodes/${KWOK_NODE}`);
      const conditions =
        (JSON.parse(node.body) as { status?: { conditions?: { type: string; status: string }[] } }).status
          ?.conditions ?? [];
      if (!conditions.some((c) => c.type === "Ready" && c.status === "True"))
        throw new Error(`Node ${KWOK_NODE} is not Ready yet`);
      const account = await cp.get("/api/v1/namespaces/default/serviceaccounts/default");
      if (account.status !== 200) throw new Error("the ServiceAccount default/default does not exist yet");
      return true;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: "kwok's Node to be Ready and the controllers at work" },
    exitedEarly,
  );
}
