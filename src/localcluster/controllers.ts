// The real kube-controller-manager and kube-scheduler of the local cluster, each with its own identity as
// in a real cluster: the controller manager as `system:kube-controller-manager`, handing every controller
// its own service-account credentials, and the scheduler as `system:kube-scheduler`.
import { join } from "node:path";
import type { ControlPlaneBinaries } from "./binaries.js";
import { type ServerProcess, spawnServer } from "./processes.js";

export interface ControllerFiles {
  dir: string;
  /** Kubeconfig with the client certificate of system:kube-controller-manager. */
  controllerManagerKubeconfig: string;
  /** Kubeconfig with the client certificate of system:kube-scheduler. */
  schedulerKubeconfig: string;
  /** The key that signs service-account tokens (the apiserver verifies with it). */
  serviceAccountKey: string;
  /** The CA of the apiserver's serving certificate, published to every namespace as kube-root-ca.crt. */
  rootCa: string;
  /** The controller manager's client rate (--kube-api-qps; burst twice that); its default 20 otherwise. */
  controllerManagerQps?: number;
}

export function startControllerManager(
  binaries: ControlPlaneBinaries,
  files: ControllerFiles,
): ServerProcess {
  return spawnServer(
    "kube-controller-manager",
    binaries.kubeControllerManager,
    [
      `--kubeconfig=${files.controllerManagerKubeconfig}`,
      // Every controller talks to the apiserver as its own service account in kube-system.
      "--use-service-account-credentials=true",
      `--service-account-private-key-file=${files.serviceAccountKey}`,
      `--root-ca-file=${files.rootCa}`,
      "--leader-elect=false",
      // No metrics or health endpoint is needed here, and none may collide between parallel clusters.
      "--secure-port=0",
      "--controllers=*",
      ...(files.controllerManagerQps
        ? [
            `--kube-api-qps=${files.controllerManagerQps}`,
            `--kube-api-burst=${2 * files.controllerManagerQps}`,
          ]
        : []),
      "--v=1",
    ],
    { logFile: join(files.dir, "kube-controller-manager.log"), pidFile: join(files.dir, "kcm.pid") },
  );
}

export function startScheduler(binaries: ControlPlaneBinaries, files: ControllerFiles): ServerProcess {
  return spawnServer(
    "kube-scheduler",
    binaries.kubeScheduler,
    [`--kubeconfig=${files.schedulerKubeconfig}`, "--leader-elect=false", "--secure-port=0", "--v=1"],
    { logFile: join(files.dir, "kube-scheduler.log"), pidFile: join(files.dir, "scheduler.pid") },
  );
}
