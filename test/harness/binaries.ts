// Where the control-plane binaries are: the paths.env that scripts/build-controlplane.sh writes.
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

export interface ControlPlaneBinaries {
  kubeApiserver: string;
  etcd: string;
  helm3?: string;
  helm4?: string;
}

/** `${SERIN_CACHE:-$HOME/.cache/serin}/controlplane/paths.env`, as the build script names it. */
export function pathsEnvFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.SERIN_CACHE || join(homedir(), ".cache", "serin"), "controlplane", "paths.env");
}

export async function loadBinaries(file = pathsEnvFile()): Promise<ControlPlaneBinaries> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new Error(`${file} is missing: build the control plane first with scripts/build-controlplane.sh`);
  }
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match?.[1] && match[2] !== undefined) values.set(match[1], match[2].trim().replace(/^"(.*)"$/, "$1"));
  }
  const required = (key: string): string => {
    const value = values.get(key);
    if (!value) throw new Error(`${file} has no ${key}=: rerun scripts/build-controlplane.sh`);
    return value;
  };
  return {
    kubeApiserver: required("KUBE_APISERVER"),
    etcd: required("ETCD"),
    helm3: values.get("HELM3") || undefined,
    helm4: values.get("HELM4") || undefined,
  };
}
