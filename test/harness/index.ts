// The end-to-end harness: a real kube-apiserver and etcd, third-party CRDs, serin's webhook as a
// process, and the Deployment status stand-in in place of the deployment controller.
export { type ControlPlaneBinaries, loadBinaries, pathsEnvFile } from "./binaries.js";
export {
  type CommandOptions,
  type CommandResult,
  type ControlPlane,
  type ControlPlaneOptions,
  type RawResponse,
  startControlPlane,
} from "./control-plane.js";
export { type CrdName, crdDir, installCrds } from "./crds.js";
export {
  type DeploymentStatusStandIn,
  type DeploymentStatusStandInOptions,
  startDeploymentStatusStandIn,
} from "./deployment-status.js";
export { type LinkerdMetrics, startLinkerdMetrics, type Traffic } from "./linkerd-metrics.js";
export { freePort, type WaitOptions, waitFor } from "./processes.js";
export { PROMETHEUS_BINARY, type Prometheus, startPrometheus } from "./prometheus.js";
export { repoRoot } from "./repo.js";
export { type SerinWatcher, type SerinWatcherOptions, startSerinWatcher } from "./watcher.js";
export {
  PROBE_NAMESPACE,
  registerWebhook,
  type SerinWebhook,
  type SerinWebhookOptions,
  serinCli,
  startSerinWebhook,
  unregisterWebhook,
  WEBHOOK_CONFIGURATION,
  WEBHOOK_NAME,
  type WebhookRegistration,
  webhookConfiguration,
} from "./webhook.js";
export {
  type ControlPlaneFixture,
  type ControlPlaneFixtureOptions,
  withControlPlane,
} from "./with-control-plane.js";
