// `serin remove-webhook NAME`: deletes serin's MutatingWebhookConfiguration and waits until it is gone.
// The chart's pre-delete hook runs it, because Helm removes webhook configurations after Deployments: in
// between, a webhook whose pods are gone would block every Deployment that opts in.
import { Argument, Command } from "commander";
import { CliError } from "./exit.js";
import { kubeconfigOption } from "./options.js";

/** How long the deletion may take to be seen: a delete is immediate, a slow apiserver is not forever. */
const GONE_WITHIN_MS = 30_000;

export function removeWebhookCommand(): Command {
  return new Command("remove-webhook")
    .description("delete serin's MutatingWebhookConfiguration and wait until it is gone (helm uninstall)")
    .addArgument(new Argument("<name>", "the MutatingWebhookConfiguration"))
    .addOption(kubeconfigOption())
    .action(async (name: string, flags: { kubeconfig?: string }) => {
      const [{ AdmissionregistrationV1Api }, { loadKubeConfig }, { isNotFound }] = await Promise.all([
        import("@kubernetes/client-node"),
        import("./kubeconfig.js"),
        import("../kube-errors.js"),
      ]);
      const admission = loadKubeConfig(flags.kubeconfig).makeApiClient(AdmissionregistrationV1Api);
      try {
        await admission.deleteMutatingWebhookConfiguration({ name });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      const deadline = Date.now() + GONE_WITHIN_MS;
      for (;;) {
        try {
          await admission.readMutatingWebhookConfiguration({ name });
        } catch (error) {
          if (!isNotFound(error)) throw error;
          process.stdout.write(`MutatingWebhookConfiguration ${name} is gone\n`);
          return;
        }
        if (Date.now() >= deadline)
          throw new CliError(
            `MutatingWebhookConfiguration ${name} still exists ${GONE_WITHIN_MS / 1000}s after its deletion`,
          );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });
}
