// The third-party CRDs serin routes traffic through (src/localcluster/crds/*.yaml), installed on a local control
// plane and waited for until clients can use them.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import type { ControlPlane } from "./control-plane.js";
import { waitFor } from "./processes.js";
import { repoRoot } from "./repo.js";

/**
 * The files in src/localcluster/crds. The two TrafficSplit files define the same CRD and are alternatives: install
 * one per control plane (going from the upstream one back to linkerd-smi's would drop stored versions,
 * which the apiserver refuses).
 */
export type CrdName =
  | "trafficsplit-linkerd-smi"
  | "trafficsplit-smi-upstream"
  | "httproute-gateway"
  | "httproute-linkerd-policy";

export const crdDir = join(repoRoot, "src", "localcluster", "crds");

interface CrdManifest {
  metadata: { name: string };
  spec: { group: string; names: { plural: string }; versions: { name: string; served: boolean }[] };
}

const AGGREGATED_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

interface AggregatedDiscovery {
  items?: {
    metadata: { name: string };
    versions: { version: string; resources: { resource: string }[] }[];
  }[];
}

/** Applies the named CRDs and resolves once each is Established and all its served versions are in discovery. */
export function installCrds(cp: ControlPlane, names: readonly CrdName[], timeoutMs = 30_000): Promise<void> {
  return installCrdFiles(
    cp,
    names.map((name) => join(crdDir, `${name}.yaml`)),
    timeoutMs,
  );
}

/** Applies CRD manifests (one CRD a file) and waits for each as `installCrds` does. */
export async function installCrdFiles(
  cp: ControlPlane,
  files: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  for (const file of files) {
    const manifest = parse(await readFile(file, "utf8")) as CrdManifest;
    const applied = await cp.kubectl(["apply", "--server-side", "--force-conflicts", "-f", file]);
    if (applied.code !== 0) throw new Error(`kubectl apply -f ${file} failed: ${applied.stderr.trim()}`);

    const crd = manifest.metadata.name;
    await waitFor(
      async () => {
        const { status, body } = await cp.get(
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}`,
        );
        if (status !== 200) throw new Error(`GET ${crd} answered ${status}`);
        const conditions = (
          JSON.parse(body) as { status?: { conditions?: { type: string; status: string }[] } }
        ).status?.conditions;
        return conditions?.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
      },
      { timeoutMs, what: `CRD ${crd} to be Established` },
    );

    const { group, names: crdNames, versions } = manifest.spec;
    for (const version of versions.filter((v) => v.served)) {
      const groupVersion = `${group}/${version.name}`;
      await waitFor(
        async () => {
          const resources = await cp.get(`/apis/${groupVersion}`);
          if (resources.status !== 200) return undefined;
          const listed = (JSON.parse(resources.body) as { resources?: { name: string }[] }).resources ?? [];
          if (!listed.some((r) => r.name === crdNames.plural)) return undefined;
          // kubectl reads aggregated discovery, which is fed separately from the group-version document.
          const aggregated = await cp.get("/apis", { accept: AGGREGATED_DISCOVERY });
          const items = (JSON.parse(aggregated.body) as AggregatedDiscovery).items ?? [];
          const listedThere = items
            .find((g) => g.metadata.name === group)
            ?.versions.find((v) => v.version === version.name)
            ?.resources.some((r) => r.resource === crdNames.plural);
          return listedThere ? true : undefined;
        },
        { timeoutMs, what: `${crdNames.plural}.${groupVersion} in discovery` },
      );
    }
  }
}
