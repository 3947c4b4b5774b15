// Where the local cluster's binaries are: the paths.env that scripts/build-controlplane.sh writes.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/** The binaries of one Kubernetes minor, and what every version shares. */
export interface ControlPlaneBinaries {
  /** The Kubernetes minor these binaries are, such as "1.34". */
  kubernetesVersion: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  etcd: string;
  kwok: string;
  /** The folder holding kwok's own stage definitions (node-initialize.yaml, pod-ready.yaml, ...). */
  kwokStages: string;
  helm3?: string;
  helm4?: string;
  /** cert-manager's controller and cainjector, and the folder of its CRDs; absent from an older build. */
  certManager?: CertManagerBinaries;
}

export interface CertManagerBinaries {
  controller: string;
  cainjector: string;
  crds: string;
}

export interface BuiltBinaries {
  /** Every Kubernetes minor built, such as ["1.34", "1.37"]. */
  versions: string[];
  defaultVersion: string;
  /** The binaries for `version` (the default when omitted); throws for a version that was not built. */
  forVersion(version?: string): ControlPlaneBinaries;
}

/** `${SERIN_CACHE:-$HOME/.cache/serin}/controlplane/paths.env`, as the build script names it. */
export function pathsEnvFile(cacheRoot?: string): string {
  return join(cacheRoot || join(homedir(), ".cache", "serin"), "controlplane", "paths.env");
}

/** Reads KEY=VALUE lines; quotes around a value are dropped. */
export function parsePathsEnv(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match?.[1] && match[2] !== undefined) values.set(match[1], match[2].trim().replace(/^"(.*)"$/, "$1"));
  }
  return values;
}

function binariesFrom(values: Map<string, string>, file: string): BuiltBinaries {
  const required = (key: string): string => {
    const value = values.get(key);
    if (!value) throw new Error(`${file} has no ${key}=: rerun scripts/build-controlplane.sh`);
    return value;
  };
  const versions = required("KUBERNETES_VERSIONS").split(/\s+/).filter(Boolean);
  const defaultVersion = required("KUBERNETES_DEFAULT");
  return {
    versions,
    defaultVersion,
    forVersion(version = defaultVersion) {
      if (!versions.includes(version)) {
        throw new Error(
          `Kubernetes ${version} is not built (built: ${versions.join(", ")}); see test/controlplane/README.md`,
        );
      }
      const suffix = version.replace(/\./g, "_");
      return {
        kubernetesVersion: version,
        kubeApiserver: required(`KUBE_APISERVER_${suffix}`),
        kubeControllerManager: required(`KUBE_CONTROLLER_MANAGER_${suffix}`),
        kubeScheduler: required(`KUBE_SCHEDULER_${suffix}`),
        etcd: required("ETCD"),
        kwok: required("KWOK"),
        kwokStages: required("KWOK_STAGES"),
        helm3: values.get("HELM3") || undefined,
        helm4: values.get("HELM4") || undefined,
        ...certManagerFrom(values),
      };
    },
  };
}

function certManagerFrom(values: Map<string, string>): { certManager?: CertManagerBinaries } {
  const controller = values.get("CERT_MANAGER_CONTROLLER");
  const cainjector = values.get("CERT_MANAGER_CAINJECTOR");
  const crds = values.get("CERT_MANAGER_CRDS");
  return controller && cainjector && crds ? { certManager: { controller, cainjector, crds } } : {};
}

export async function loadBinaries(file = pathsEnvFile()): Promise<BuiltBinaries> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new Error(`${file} is missing: build the local cluster first with scripts/build-controlplane.sh`);
  }
  return binariesFrom(parsePathsEnv(text), file);
}
