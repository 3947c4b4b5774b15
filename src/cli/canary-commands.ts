import { AppsV1Api, type KubernetesObject, type V1Deployment } from "@kubernetes/client-node";
import { Argument, Command } from "commander";
import { annotationsOf, isEnabled, labelsOf } from "../contract/deployment.js";
import {
  ACTIONS,
  type Action,
  ENABLED_LABEL,
  ENABLED_VALUE,
  PendingKey,
  RouteKey,
  StatusLabel,
  UserKey,
} from "../contract/keys.js";
import { parseSteps } from "../contract/steps.js";
import { isNotFound } from "../kube-errors.js";
import { parseState } from "../plan/state.js";
import { createRouter } from "../routers/factory.js";
import { mergePatch } from "../watch/kube.js";
import { routeTarget } from "../watch/reconciler.js";
import {
  type Cluster,
  type ClusterEnv,
  type ClusterFlags,
  clusterOptions,
  connectCluster,
  describeClusterError,
} from "./cluster.js";
import { CliError } from "./exit.js";
import { completeWith } from "./options.js";

type TargetFlags = Omit<ClusterFlags, "allNamespaces">;

function withTarget(command: Command): Command {
  command.addArgument(completeWith(new Argument("<name>", "the Deployment"), { kind: "deployments" }));
  return clusterOptions(command);
}

/** The Deployment, when it exists and is enabled for serin; otherwise an error that names it. */
async function readEnabledDeployment(cluster: Cluster, name: string): Promise<V1Deployment> {
  const target = `deployment ${cluster.namespace}/${name}`;
  let deployment: V1Deployment;
  try {
    deployment = await cluster.config
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name, namespace: cluster.namespace });
  } catch (error) {
    if (isNotFound(error)) throw new CliError(`${target} not found`);
    throw new CliError(describeClusterError(error, cluster));
  }
  if (!isEnabled(deployment)) {
    throw new CliError(`${target} is not enabled for serin: label it ${ENABLED_LABEL}=${ENABLED_VALUE}`);
  }
  return deployment;
}

/** The traffic split of an enabled Deployment, as stored (undefined when there is none yet). */
async function readSplit(cluster: Cluster, deployment: V1Deployment): Promise<KubernetesObject | undefined> {
  const name = deployment.metadata?.name ?? "";
  const service = annotationsOf(deployment)[UserKey.service] ?? name;
  const router = await createRouter(cluster.config, { kind: "auto" });
  const target = routeTarget(deployment, service, undefined);
  return (await router.read(target)) as KubernetesObject | undefined;
}

/**
 * The lines `serin status` prints: what a user checks during a rollout. The phase and the weight are
 * labels of the Deployment; the step and the message are kept on the traffic split serin owns.
 */
export function describeStatus(deployment: V1Deployment, split?: KubernetesObject): string {
  const annotations = annotationsOf(deployment);
  const labels = labelsOf(deployment);
  const notes = split?.metadata?.annotations ?? {};
  const name = `${deployment.metadata?.namespace}/${deployment.metadata?.name}`;
  if (!isEnabled(deployment)) return `${name}: not enabled (label ${ENABLED_LABEL}=enabled is missing)\n`;
  const state = parseState(notes[RouteKey.state]);
  const steps = parseSteps(annotations[UserKey.steps] ?? "10,25,50,75");
  const stepOf =
    state && state.step >= 0 && steps.ok ? ` (step ${state.step + 1} of ${steps.value.length})` : "";
  const rows: [string, string | undefined][] = [
    ["deployment", name],
    ["phase", labels[StatusLabel.phase] ?? "(not reconciled yet)"],
    [
      "weight",
      labels[StatusLabel.weight] !== undefined ? `${labels[StatusLabel.weight]}%${stepOf}` : undefined,
    ],
    ["pending", annotations[PendingKey.revision]],
    ["action", annotations[UserKey.action] ? `${annotations[UserKey.action]} (not yet acted on)` : undefined],
    ["message", notes[RouteKey.message]],
  ];
  return rows
    .filter((row): row is [string, string] => row[1] !== undefined)
    .map(([label, value]) => `${`${label}:`.padEnd(12)}${value}`)
    .join("\n")
    .concat("\n");
}

function statusCommand(env: ClusterEnv): Command {
  return withTarget(new Command("status").description("show a Deployment's canary: phase, weight, message"))
    .option("-w, --watch", "keep printing on every change")
    .action(async (name: string, flags: TargetFlags & { watch?: boolean }) => {
      const cluster = connectCluster(flags, env);
      let last = "";
      for (;;) {
        const deployment = await readEnabledDeployment(cluster, name);
        const text = describeStatus(deployment, await readSplit(cluster, deployment));
        if (text !== last) process.stdout.write(flags.watch && last ? `\n${text}` : text);
        last = text;
        if (!flags.watch) return;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    });
}

function actionCommand(action: Action, env: ClusterEnv): Command {
  const what: Record<Action, string> = {
    promote: "skip the remaining steps and promote the canary",
    abort: "send all traffic back to stable and remove the canary",
    pause: "hold the canary at its current weight",
    resume: "carry on after a pause",
    retry: "start the aborted revision's canary again",
  };
  return withTarget(new Command(action).description(what[action])).action(
    async (name: string, flags: TargetFlags) => {
      const cluster = connectCluster(flags, env);
      await readEnabledDeployment(cluster, name);
      try {
        await cluster.config.makeApiClient(AppsV1Api).patchNamespacedDeployment(
          {
            name,
            namespace: cluster.namespace,
            body: { metadata: { annotations: { [UserKey.action]: action } } },
          },
          mergePatch,
        );
      } catch (error) {
        throw new CliError(`setting ${UserKey.action}=${action}: ${describeClusterError(error, cluster)}`);
      }
      process.stdout.write(
        `${cluster.namespace}/${name}: ${UserKey.action}=${action} set; serin acts on it next\n`,
      );
    },
  );
}

/** `serin status` and the five actions; `env` is where the kubeconfig is looked up. */
export function canaryCommands(env: ClusterEnv): Command[] {
  return [statusCommand(env), ...ACTIONS.map((action) => actionCommand(action, env))];
}
