// The local kubelet's volumes: each of a pod's volumes as a folder of files, as the kubelet writes them
// (Secret and ConfigMap keys, the projected service-account token from the TokenRequest API, the
// downward API's fields, emptyDir). Other volume types are refused, naming the volume. Files are laid
// out as the kubelet lays them out (secret-volume.ts), and `refreshVolumes` rewrites those whose Secret
// or ConfigMap changed, as the kubelet's periodic sync does, in one swap.
import { createHash } from "node:crypto";
import { chmod, mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { V1KeyToPath, V1Pod, V1Volume } from "@kubernetes/client-node";
import type { RawJsonClient } from "../watch/raw-json.js";
import { type VolumeFile, writeVolumeFiles } from "./secret-volume.js";

interface KeyedData {
  data?: Record<string, string>;
}

type Files = Record<string, VolumeFile>;

function addKeys(
  files: Files,
  data: Record<string, string>,
  encoding: "base64" | "utf8",
  items: V1KeyToPath[] | undefined,
  mode: number,
  what: string,
): void {
  const wanted: V1KeyToPath[] = items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const item of wanted) {
    const value = data[item.key];
    if (value === undefined) throw new Error(`${what} has no key ${item.key}`);
    files[item.path] = { content: Buffer.from(value, encoding), mode: item.mode ?? mode };
  }
}

const segment = encodeURIComponent;

/** What a volume holds: undefined for an emptyDir; the files (path -> content and mode) otherwise. */
async function volumeFiles(client: RawJsonClient, pod: V1Pod, volume: V1Volume): Promise<Files | undefined> {
  const namespace = pod.metadata?.namespace ?? "default";
  const api = `/api/v1/namespaces/${segment(namespace)}`;
  const get = <T>(path: string) => client.send<T>("GET", `${api}/${path}`);
  const files: Files = {};
  if (volume.emptyDir) return undefined;
  if (volume.secret) {
    const name = volume.secret.secretName ?? "";
    const secret = await get<KeyedData>(`secrets/${segment(name)}`);
    addKeys(
      files,
      secret.data ?? {},
      "base64",
      volume.secret.items,
      volume.secret.defaultMode ?? 0o644,
      `Secret ${name}`,
    );
  } else if (volume.configMap) {
    const name = volume.configMap.name ?? "";
    const map = await get<KeyedData>(`configmaps/${segment(name)}`);
    addKeys(
      files,
      map.data ?? {},
      "utf8",
      volume.configMap.items,
      volume.configMap.defaultMode ?? 0o644,
      `ConfigMap ${name}`,
    );
  } else if (volume.projected) {
    const mode = volume.projected.defaultMode ?? 0o644;
    for (const source of volume.projected.sources ?? []) {
      if (source.serviceAccountToken) {
        const account = pod.spec?.serviceAccountName ?? "default";
        const request = await client.send<{ status: { token: string } }>(
          "POST",
          `${api}/serviceaccounts/${segment(account)}/token`,
          {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenRequest",
            spec: {
              ...(source.serviceAccountToken.audience
                ? { audiences: [source.serviceAccountToken.audience] }
                : {}),
              expirationSeconds: source.serviceAccountToken.expirationSeconds ?? 3607,
              boundObjectRef: {
                apiVersion: "v1",
                kind: "Pod",
                name: pod.metadata?.name,
                uid: pod.metadata?.uid,
              },
            },
          },
        );
        addKeys(
          files,
          { token: request.status.token },
          "utf8",
          [{ key: "token", path: source.serviceAccountToken.path }],
          mode,
          "token",
        );
      } else if (source.configMap) {
        const name = source.configMap.name ?? "";
        const map = await get<KeyedData>(`configmaps/${segment(name)}`);
        addKeys(files, map.data ?? {}, "utf8", source.configMap.items, mode, `ConfigMap ${name}`);
      } else if (source.secret) {
        const name = source.secret.name ?? "";
        const secret = await get<KeyedData>(`secrets/${segment(name)}`);
        addKeys(files, secret.data ?? {}, "base64", source.secret.items, mode, `Secret ${name}`);
      } else if (source.downwardAPI) {
        const fields: Record<string, string> = {
          "metadata.name": pod.metadata?.name ?? "",
          "metadata.namespace": namespace,
          "metadata.uid": pod.metadata?.uid ?? "",
        };
        for (const item of source.downwardAPI.items ?? []) {
          const value = item.fieldRef ? fields[item.fieldRef.fieldPath] : undefined;
          if (value === undefined)
            throw new Error(`volume ${volume.name}: downwardAPI item ${item.path} is not served`);
          addKeys(files, { [item.path]: value }, "utf8", undefined, item.mode ?? mode, "downwardAPI");
        }
      } else {
        throw new Error(
          `volume ${volume.name}: a projected source other than token, ConfigMap, Secret, downwardAPI`,
        );
      }
    }
  } else {
    throw new Error(
      `volume ${volume.name}: only emptyDir, secret, configMap and projected volumes are supported`,
    );
  }
  return files;
}

function fingerprint(files: Files): string {
  const hash = createHash("sha256");
  for (const path of Object.keys(files).sort()) {
    const file = files[path] as VolumeFile;
    const plain = typeof file === "string" || Buffer.isBuffer(file);
    hash
      .update(`${path}\0${plain ? "" : file.mode}\0`)
      .update(plain ? file : file.content)
      .update("\0");
  }
  return hash.digest("hex");
}

/** What was last written into each volume of a pod, so that a refresh rewrites only what changed. */
export type VolumeVersions = Map<string, string>;

/**
 * Writes every volume of `pod` under `podDir/volumes/<name>`; returns each volume's folder. `versions`
 * records what was written, for `refreshVolumes`.
 */
export async function prepareVolumes(
  client: RawJsonClient,
  pod: V1Pod,
  podDir: string,
  versions: VolumeVersions = new Map(),
): Promise<Map<string, string>> {
  const dirs = new Map<string, string>();
  for (const volume of pod.spec?.volumes ?? ([] as V1Volume[])) {
    const dir = join(podDir, "volumes", volume.name);
    await mkdir(dir, { recursive: true });
    dirs.set(volume.name, dir);
    const files = await volumeFiles(client, pod, volume);
    if (!files) {
      await chmod(dir, 0o777);
      continue;
    }
    await writeVolumeFiles(dir, files);
    versions.set(volume.name, fingerprint(files));
  }
  return dirs;
}

/** The volumes whose content follows an object: a Secret or ConfigMap, alone or projected without a token. */
function followsObjects(volume: V1Volume): boolean {
  if (volume.secret || volume.configMap) return true;
  return Boolean(volume.projected?.sources?.every((source) => source.secret || source.configMap));
}

/**
 * Rewrites the Secret and ConfigMap volumes of a running pod whose objects changed since `versions`
 * (the kubelet's periodic sync). A volume whose object cannot be read keeps its files.
 */
export async function refreshVolumes(
  client: RawJsonClient,
  pod: V1Pod,
  podDir: string,
  versions: VolumeVersions,
): Promise<void> {
  for (const volume of pod.spec?.volumes ?? ([] as V1Volume[])) {
    if (!followsObjects(volume)) continue;
    const files = await volumeFiles(client, pod, volume).catch(() => undefined);
    if (!files) continue;
    const version = fingerprint(files);
    if (versions.get(volume.name) === version) continue;
    await writeVolumeFiles(join(podDir, "volumes", volume.name), files);
    versions.set(volume.name, version);
  }
}
