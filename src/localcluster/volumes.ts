// The local kubelet's volumes: each of a pod's volumes as a folder of files, as the kubelet writes them
// (Secret and ConfigMap keys, the projected service-account token from the TokenRequest API, the
// downward API's fields, emptyDir). Other volume types are refused, naming the volume.
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { V1KeyToPath, V1Pod, V1Volume } from "@kubernetes/client-node";
import type { RawJsonClient } from "../watch/raw-json.js";

interface KeyedData {
  data?: Record<string, string>;
}

async function writeKeys(
  dir: string,
  data: Record<string, string>,
  encoding: "base64" | "utf8",
  items: V1KeyToPath[] | undefined,
  mode: number,
  what: string,
): Promise<void> {
  const wanted: V1KeyToPath[] = items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const item of wanted) {
    const value = data[item.key];
    if (value === undefined) throw new Error(`${what} has no key ${item.key}`);
    const file = join(dir, item.path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, Buffer.from(value, encoding));
    await chmod(file, item.mode ?? mode);
  }
}

const segment = encodeURIComponent;

/** Writes every volume of `pod` under `podDir/volumes/<name>`; returns each volume's folder. */
export async function prepareVolumes(
  client: RawJsonClient,
  pod: V1Pod,
  podDir: string,
): Promise<Map<string, string>> {
  const namespace = pod.metadata?.namespace ?? "default";
  const api = `/api/v1/namespaces/${segment(namespace)}`;
  const get = <T>(path: string) => client.send<T>("GET", `${api}/${path}`);
  const dirs = new Map<string, string>();
  for (const volume of pod.spec?.volumes ?? ([] as V1Volume[])) {
    const dir = join(podDir, "volumes", volume.name);
    await mkdir(dir, { recursive: true });
    dirs.set(volume.name, dir);
    if (volume.emptyDir) {
      await chmod(dir, 0o777);
    } else if (volume.secret) {
      const name = volume.secret.secretName ?? "";
      const secret = await get<KeyedData>(`secrets/${segment(name)}`);
      await writeKeys(
        dir,
        secret.data ?? {},
        "base64",
        volume.secret.items,
        volume.secret.defaultMode ?? 0o644,
        `Secret ${name}`,
      );
    } else if (volume.configMap) {
      const name = volume.configMap.name ?? "";
      const map = await get<KeyedData>(`configmaps/${segment(name)}`);
      await writeKeys(
        dir,
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
          await writeKeys(
            dir,
            { token: request.status.token },
            "utf8",
            [{ key: "token", path: source.serviceAccountToken.path }],
            mode,
            "token",
          );
        } else if (source.configMap) {
          const name = source.configMap.name ?? "";
          const map = await get<KeyedData>(`configmaps/${segment(name)}`);
          await writeKeys(dir, map.data ?? {}, "utf8", source.configMap.items, mode, `ConfigMap ${name}`);
        } else if (source.secret) {
          const name = source.secret.name ?? "";
          const secret = await get<KeyedData>(`secrets/${segment(name)}`);
          await writeKeys(dir, secret.data ?? {}, "base64", source.secret.items, mode, `Secret ${name}`);
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
            await writeKeys(dir, { [item.path]: value }, "utf8", undefined, item.mode ?? mode, "downwardAPI");
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
  }
  return dirs;
}
