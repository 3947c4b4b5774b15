// The local cluster serin's demo and end-to-end tests run on: real etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok, third-party CRDs, and serin's own processes.
export { type BuiltBinaries, type ControlPlaneBinaries, loadBinaries, pathsEnvFile } from "./binaries.js";
export {
  type CommandOptions,
  type CommandResult,
  type ControlPlane,
  type ControlPlaneOptions,
  type RawResponse,
  startControlPlane,
} from "./control-plane.js";
export { type CrdName, crdDir, installCrds } from "./crds.js";
export { type ImageConfig, imageConfig, layOutImageFiles, serinImageConfig } from "./image.js";
export {
  LOCAL_KUBELET_LABEL,
  type LocalKubelet,
  type LocalKubeletOptions,
  startLocalKubelet,
} from "./kubelet.js";
export { KWOK_NODE, UNREADY_ANNOTATION } from "./kwok.js";
export { freePort, type WaitOptions, waitFor } from "./processes.js";
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
