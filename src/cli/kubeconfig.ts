import { Agent } from "node:https";
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";

/**
 * client-node 1.4 builds a new https.Agent for every API call: a new TLS handshake each time, which a
 * benchmark showed to be most of the abort latency and of the watcher's cost with many canaries. This
 * KubeConfig hands every call one keep-alive agent with the same TLS options.
 */
class KeepAliveKubeConfig extends KubeConfig {
  private agent: Agent | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getAgent();
    // Plain HTTP (no TLS options to keep) stays as client-node made it.
    if (!(fresh instanceof Agent)) return;
    this.agent ??= new Agent({ ...fresh.options, keepAlive: true });
    context.setAgent(this.agent);
  }
}

/** --kubeconfig when given; otherwise client-node's default order (KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const config = new KeepAliveKubeConfig();
  if (path) config.loadFromFile(path);
  else config.loadFromDefault();
  if (!config.getCurrentCluster()) {
    throw new Error(
      `no cluster in ${path ?? "the default kubeconfig"}: pass --kubeconfig or run inside a cluster`,
    );
  }
  return config;
}
