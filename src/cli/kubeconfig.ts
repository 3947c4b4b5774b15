import { KubeConfig } from "@kubernetes/client-node";

/** --kubeconfig when given; otherwise client-node's default order (KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (path) config.loadFromFile(path);
  else config.loadFromDefault();
  if (!config.getCurrentCluster()) {
    throw new Error(
      `no cluster in ${path ?? "the default kubeconfig"}: pass --kubeconfig or run inside a cluster`,
    );
  }
  return config;
}
