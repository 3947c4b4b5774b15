import type { V1Deployment } from "@kubernetes/client-node";
import { Command } from "commander";
import { annotationsOf, isEnabled } from "../contract/deployment.js";
import { ACTIONS, type Action, ENABLED_LABEL, StatusKey, UserKey } from "../contract/keys.js";
import { parseSteps } from "../contract/steps.js";
import { parseState } from "../plan/state.js";
import { describeApiError, isNotFound, makeKube, mergePatch } from "../watch/kube.js";
import { loadKubeConfig } from "./kubeconfig.js";

interface TargetFlags {
  namespace: string;
  kubeconfig?: string;
}

function withTarget(command: Command): Command {
  return command
    .argument("<name>", "the Deployment")
    .option("-n, --namespace <ns>", "namespace of the Deployment", "default")
    .option("--kubeconfig <file>", "kubeconfig to use");
}

async function readDeployment(name: string, flags: TargetFlags): Promise<V1Deployment> {
  const kube = makeKube(loadKubeConfig(flags.kubeconfig));
  try {
    return await kube.apps.readNamespacedDeployment({ name, namespace: flags.namespace });
  } catch (error) {
    if (isNotFound(error)) throw new Error(`Deployment ${flags.namespace}/${name} not found`);
    throw new Error(`reading Deployment ${flags.namespace}/${name}: ${describeApiError(error)}`);
  }
}

/** The lines `serin status` prints: what a user checks during a rollout. */
export function describeStatus(deployment: V1Deployment): string {
  const annotations = annotationsOf(deployment);
  const name = `${deployment.metadata?.namespace}/${deployment.metadata?.name}`;
  if (!isEnabled(deployment)) return `${name}: not enabled (label ${ENABLED_LABEL}=enabled is missing)\n`;
  const state = parseState(annotations[StatusKey.state]);
  const steps = parseSteps(annotations[UserKey.steps] ?? "10,25,50,75");
  const stepOf =
    state && state.step >= 0 && steps.ok ? ` (step ${state.step + 1} of ${steps.value.length})` : "";
  const rows: [string, string | undefined][] = [
    ["deployment", name],
    ["phase", annotations[StatusKey.phase] ?? "(not reconciled yet)"],
    [
      "weight",
      annotations[StatusKey.weight] !== undefined ? `${annotations[StatusKey.weight]}%${stepOf}` : undefined,
    ],
    ["pending", annotations[StatusKey.pendingRevision]],
    ["action", annotations[UserKey.action] ? `${annotations[UserKey.action]} (not yet acted on)` : undefined],
    ["message", annotations[StatusKey.message]],
  ];
  return rows
    .filter((row): row is [string, string] => row[1] !== undefined)
    .map(([label, value]) => `${`${label}:`.padEnd(12)}${value}`)
    .join("\n")
    .concat("\n");
}

function statusCommand(): Command {
  return withTarget(new Command("status").description("show a Deployment's canary: phase, weight, message"))
    .option("-w, --watch", "keep printing on every change", false)
    .action(async (name: string, flags: TargetFlags & { watch: boolean }) => {
      let last = "";
      for (;;) {
        const text = describeStatus(await readDeployment(name, flags));
        if (text !== last) process.stdout.write(flags.watch && last ? `\n${text}` : text);
        last = text;
        if (!flags.watch) return;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    });
}

function actionCommand(action: Action): Command {
  const what: Record<Action, string> = {
    promote: "skip the remaining steps and promote the canary",
    abort: "send all traffic back to stable and remove the canary",
    pause: "hold the canary at its current weight",
    resume: "carry on after a pause",
    retry: "start the aborted revision's canary again",
  };
  return withTarget(new Command(action).description(what[action])).action(
    async (name: string, flags: TargetFlags) => {
      const deployment = await readDeployment(name, flags);
      if (!isEnabled(deployment))
        throw new Error(`Deployment ${flags.namespace}/${name} is not enabled for serin`);
      const kube = makeKube(loadKubeConfig(flags.kubeconfig));
      try {
        await kube.apps.patchNamespacedDeployment(
          {
            name,
            namespace: flags.namespace,
            body: { metadata: { annotations: { [UserKey.action]: action } } },
          },
          mergePatch,
        );
      } catch (error) {
        throw new Error(`setting ${UserKey.action}=${action}: ${describeApiError(error)}`);
      }
      process.stdout.write(
        `${flags.namespace}/${name}: ${UserKey.action}=${action} set; serin acts on it next\n`,
      );
    },
  );
}

export function canaryCommands(): Command[] {
  return [statusCommand(), ...ACTIONS.map(actionCommand)];
}
