// How the operator's commands (status, the actions, and what lists canaries) find the cluster and the
// namespace, the way kubectl does: --kubeconfig, else KUBECONFIG, else ~/.kube/config, else the in-cluster
// service account; --context, else the kubeconfig's current context; -n, else that context's namespace.
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { type Command, Option } from "commander";
import { formatDuration } from "../contract/duration.js";
import { apiErrorCode, apiErrorMessage } from "../kube-errors.js";
import { CliError } from "./exit.js";
import { newKubeConfig } from "./kubeconfig.js";
import { completeWith, kubeconfigOption } from "./options.js";

/** The flags `clusterOptions` declares, as commander hands them to an action. */
export interface ClusterFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces?: boolean;
}

/**
 * Adds kubectl's `-n/--namespace`, `--context` and `--kubeconfig` to a command that talks to the cluster,
 * and `-A/--all-namespaces` when it can act on every namespace at once (as a list does).
 */
export function clusterOptions(command: Command, scope: { allNamespaces?: boolean } = {}): Command {
  command.addOption(
    completeWith(
      new Option("-n, --namespace <namespace>", "namespace (default: the current context's namespace)"),
      { kind: "namespaces" },
    ),
  );
  if (scope.allNamespaces) {
    command.option("-A, --all-namespaces", "every namespace (-n is then ignored, as kubectl does)");
  }
  command.addOption(
    completeWith(new Option("--context <context>", "kubeconfig context (default: its current context)"), {
      kind: "contexts",
    }),
  );
  command.addOption(kubeconfigOption());
  return command;
}

/** Where the cluster's address and credentials come from. */
export type KubeconfigSource =
  | { kind: "files"; files: string[] }
  | { kind: "in-cluster" }
  | { kind: "none"; tried: string };

/** The environment the CLI reads cluster access from; src/cli/main.ts passes process.env. */
export interface ClusterEnv {
  KUBECONFIG?: string | undefined;
  HOME?: string | undefined;
  KUBERNETES_SERVICE_HOST?: string | undefined;
}

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** kubectl's order; files in KUBECONFIG that do not exist are skipped, as kubectl skips them. */
export function kubeconfigSource(
  kubeconfigFlag: string | undefined,
  env: ClusterEnv,
  exists: (path: string) => boolean = existsSync,
): KubeconfigSource {
  if (kubeconfigFlag) return { kind: "files", files: [kubeconfigFlag] };
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(delimiter).filter((file) => file !== "" && exists(file));
    if (files.length > 0) return { kind: "files", files };
    return { kind: "none", tried: `KUBECONFIG=${env.KUBECONFIG} (no such file)` };
  }
  const home = env.HOME ? join(env.HOME, ".kube", "config") : undefined;
  if (home && exists(home)) return { kind: "files", files: [home] };
  if (env.KUBERNETES_SERVICE_HOST && exists(SERVICE_ACCOUNT_TOKEN)) return { kind: "in-cluster" };
  return {
    kind: "none",
    tried: `${home ?? "~/.kube/config"} (no such file) and no in-cluster service account`,
  };
}

/** A cluster the CLI is about to talk to, and how to say which one in an error. */
export interface Cluster {
  config: KubeConfig;
  /** The namespace to act in: -n, else the context's namespace, else "default". */
  namespace: string;
  /** -A was given: act on every namespace. */
  allNamespaces: boolean;
  /** The apiserver URL, e.g. https://127.0.0.1:6443. */
  server: string;
  /** "kubeconfig /root/.kube/config, context prod" or "in-cluster service account". */
  origin: string;
  /** How long one API call may take. */
  requestTimeoutMs: number;
}

/** Adds another KUBECONFIG file as kubectl merges them: the first file that sets a name or the current context wins. */
function mergeFirstWins(config: KubeConfig, file: string): void {
  const more = newKubeConfig();
  more.loadFromFile(file);
  const has = (names: { name: string }[], name: string) => names.some((item) => item.name === name);
  for (const cluster of more.getClusters())
    if (!has(config.getClusters(), cluster.name)) config.addCluster(cluster);
  for (const user of more.getUsers()) if (!has(config.getUsers(), user.name)) config.addUser(user);
  for (const context of more.getContexts())
    if (!has(config.getContexts(), context.name)) config.addContext(context);
  if (!config.getCurrentContext() && more.getCurrentContext())
    config.setCurrentContext(more.getCurrentContext());
}

/** How long one API call of a command may take before it is abandoned, unless the command says otherwise. */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Loads the kubeconfig and picks the context and namespace; throws a CliError a user can act on.
 * Each API call (not a WATCH) made through `config` gives up after `requestTimeoutMs`.
 */
export function connectCluster(
  flags: ClusterFlags,
  env: ClusterEnv,
  requestTimeoutMs = REQUEST_TIMEOUT_MS,
): Cluster {
  const source = kubeconfigSource(flags.kubeconfig, env);
  if (source.kind === "none") {
    throw new CliError(`no kubeconfig found: tried ${source.tried}; pass --kubeconfig or set KUBECONFIG`);
  }
  const config = newKubeConfig(requestTimeoutMs);
  const file = source.kind === "files" ? source.files.join(delimiter) : "";
  if (source.kind === "files") {
    const [first = "", ...rest] = source.files;
    if (!existsSync(first)) throw new CliError(`kubeconfig ${first}: no such file`);
    try {
      config.loadFromFile(first);
      for (const other of rest) mergeFirstWins(config, other);
    } catch (error) {
      throw new CliError(`kubeconfig ${file} cannot be read: ${(error as Error).message.split("\n")[0]}`);
    }
  } else {
    config.loadFromCluster();
  }
  const contextNames = config.getContexts().map((context) => context.name);
  if (flags.context !== undefined) {
    if (!contextNames.includes(flags.context)) {
      throw new CliError(
        `context "${flags.context}" is not in kubeconfig ${file}; it has: ${contextNames.join(", ") || "none"}`,
      );
    }
    config.setCurrentContext(flags.context);
  }
  const contextName = config.getCurrentContext();
  const origin =
    source.kind === "files" ? `kubeconfig ${file}, context ${contextName}` : "in-cluster service account";
  if (source.kind === "files" && !contextName) {
    throw new CliError(
      `kubeconfig ${file} has no current context: pass --context (contexts: ${contextNames.join(", ") || "none"})`,
    );
  }
  const server = config.getCurrentCluster()?.server;
  if (!server) throw new CliError(`${origin}: the context names no cluster with a server`);
  return {
    config,
    namespace: flags.namespace ?? config.getContextObject(contextName)?.namespace ?? "default",
    allNamespaces: flags.allNamespaces === true,
    server,
    origin,
    requestTimeoutMs,
  };
}

/** Socket and TLS errors have a string code (ECONNREFUSED, ENOTFOUND, CERT_HAS_EXPIRED...). */
function networkReason(error: unknown, timeoutMs: number): string | undefined {
  const seen = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    type?: unknown;
    name?: unknown;
  } | null;
  if (!seen || typeof seen !== "object") return undefined;
  if (seen.name === "AbortError" || seen.type === "aborted")
    return `no answer within ${formatDuration(timeoutMs)}`;
  if (typeof seen.code === "string" || seen.type === "system") {
    const message = String(seen.message);
    // node-fetch: "request to https://... failed, reason: connect ECONNREFUSED 127.0.0.1:1"
    return /, reason: (.*)$/s.exec(message)?.[1] ?? message;
  }
  return seen.cause ? networkReason(seen.cause, timeoutMs) : undefined;
}

/**
 * What went wrong talking to the cluster, in words that name the cluster: unreachable, credentials refused,
 * or the apiserver's own message.
 */
export function describeClusterError(
  error: unknown,
  cluster: Pick<Cluster, "server" | "origin" | "requestTimeoutMs">,
): string {
  const code = apiErrorCode(error);
  const where = `the cluster at ${cluster.server} (${cluster.origin})`;
  if (code === 401) return `${where} did not accept the credentials: ${apiErrorMessage(error)}`;
  if (code === 403) return `${where} refused: ${apiErrorMessage(error)}`;
  if (code !== undefined) return `${where} answered HTTP ${code}: ${apiErrorMessage(error)}`;
  const reason = networkReason(error, cluster.requestTimeoutMs);
  if (reason !== undefined) return `cannot reach ${where}: ${reason}`;
  return `talking to ${where}: ${error instanceof Error ? error.message : String(error)}`;
}
