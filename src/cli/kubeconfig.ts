import { Agent } from "node:https";
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";

/**
 * client-node 1.4 builds a new https.Agent for every API call: a new TLS handshake each time, which a
 * benchmark showed to be most of the abort latency and of the watcher's cost with many canaries. This
 * KubeConfig hands every call one keep-alive agent with the same TLS options.
 */
class KeepAliveKubeConfig extends KubeConfig {
  private agent: Agent | undefined;

  constructor(private readonly requestTimeoutMs?: number) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    if (this.requestTimeoutMs) context.setSignal(AbortSignal.timeout(this.requestTimeoutMs));
    const fresh = context.getAgent();
    // Plain HTTP (no TLS options to keep) stays as client-node made it.
    if (!(fresh instanceof Agent)) return;
    this.agent ??= new Agent({ ...fresh.options, keepAlive: true });
    context.setAgent(this.agent);
  }
}

/**
 * An empty KubeConfig whose API calls share one keep-alive connection; with `requestTimeoutMs`, each
 * API call (not a WATCH) is abandoned after that long, so that a command never hangs on a silent server.
 */
export function newKubeConfig(requestTimeoutMs?: number): KubeConfig {
  return new KeepAliveKubeConfig(requestTimeoutMs);
}

/** --kubeconfig when given; otherwise client-node's default order (KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const config = newKubeConfig();
  if (path) config.loadFromFile(path);
  else config.loadFromDefault();
  if (!config.getCurrentCluster()) {
    throw new Error(
      `no cluster in ${path ?? "the default kubeconfig"}: pass --kubeconfig or run inside a cluster`,
    );
  }
  return config;
}
