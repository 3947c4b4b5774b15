// The last hop from kube-apiserver to a Service, for a local cluster without a pod network: the apiserver
// is told (an EgressSelectorConfiguration) to open its connections to the cluster's network through an
// HTTP CONNECT proxy on a Unix socket, and this proxy forwards a Service address only to the process a
// test said serves it on loopback. Webhook calls keep everything else real: the Service clientConfig, its
// resolution to an address, and TLS verified for `<service>.<namespace>.svc`. The proxy never dials the
// address it is asked for: an address nobody routed is refused.
import { createServer, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { stringify } from "yaml";
import type { ControlPlane } from "./control-plane.js";

export interface ClusterNetwork {
  /** The Unix socket the apiserver's cluster egress dials. */
  readonly socketPath: string;
  /** Connections to `address` ("10.0.3.4:443") go to 127.0.0.1:`localPort` from now on. */
  route(address: string, localPort: number): void;
  /** Connections to `address` are refused again. */
  unroute(address: string): void;
  /** CONNECTs answered so far, by address, refused ones included: what the apiserver dialed. */
  connects(): ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/** The `--egress-selector-config-file` that sends the apiserver's cluster traffic to `socketPath`. */
export function egressSelectorConfiguration(socketPath: string): string {
  return stringify({
    apiVersion: "apiserver.k8s.io/v1beta1",
    kind: "EgressSelectorConfiguration",
    egressSelections: [
      {
        name: "cluster",
        connection: { proxyProtocol: "HTTPConnect", transport: { uds: { udsName: socketPath } } },
      },
    ],
  });
}

/** How long a CONNECT's request line and headers may take, and how long the local dial may take. */
const HANDSHAKE_TIMEOUT_MS = 5_000;

/** Starts the proxy on `socketPath`; nothing is routed until `route` is called. */
export async function startClusterNetwork(socketPath: string): Promise<ClusterNetwork> {
  const routes = new Map<string, number>();
  const seen = new Map<string, number>();
  const tunnels = new Set<Socket>();
  const server = createServer({ requestTimeout: HANDSHAKE_TIMEOUT_MS, headersTimeout: HANDSHAKE_TIMEOUT_MS });
  // Anything but CONNECT is not what the apiserver sends.
  server.on("request", (_req, res) => {
    res.writeHead(405, { connection: "close" }).end();
  });
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    const address = req.url ?? "";
    seen.set(address, (seen.get(address) ?? 0) + 1);
    const port = routes.get(address);
    if (port === undefined) {
      client.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\nno route to ${address}\n`);
      return;
    }
    const upstream = connect({ host: "127.0.0.1", port, timeout: HANDSHAKE_TIMEOUT_MS });
    tunnels.add(client).add(upstream);
    let established = false;
    const forget = () => {
      tunnels.delete(client);
      tunnels.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    upstream.once("connect", () => {
      established = true;
      upstream.setTimeout(0);
      client.write("HTTP/1.1 200 Connection established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
    upstream.once("timeout", () => upstream.destroy(new Error(`dialing 127.0.0.1:${port} timed out`)));
    upstream.once("error", () => {
      if (!established) client.end("HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\n");
      else forget();
    });
    client.once("error", forget);
    client.once("close", forget);
    upstream.once("close", forget);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    socketPath,
    route(address, localPort) {
      routes.set(address, localPort);
    },
    unroute(address) {
      routes.delete(address);
    },
    connects: () => seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of tunnels) socket.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface ServiceBody {
  spec?: { clusterIP?: string; ports?: { name?: string; port: number }[] };
}
interface EndpointSliceList {
  items?: { endpoints?: { addresses: string[] }[]; ports?: { name?: string; port?: number }[] }[];
}

/**
 * Routes every address the apiserver may dial for the Service NAMESPACE/NAME to 127.0.0.1:`localPort`:
 * its ClusterIP and ports, and each address and port of its EndpointSlices (where the apiserver routes
 * to endpoints). Returns the addresses routed. Call again after the Service's pods change.
 */
export async function routeService(
  cp: Pick<ControlPlane, "clusterNetwork" | "get">,
  namespace: string,
  name: string,
  localPort: number,
): Promise<string[]> {
  const network = cp.clusterNetwork;
  if (!network)
    throw new Error("the control plane was started without clusterNetwork: nothing routes Services");
  const ns = encodeURIComponent(namespace);
  const service = await cp.get(`/api/v1/namespaces/${ns}/services/${encodeURIComponent(name)}`);
  if (service.status !== 200) throw new Error(`GET Service ${namespace}/${name} answered ${service.status}`);
  const spec = (JSON.parse(service.body) as ServiceBody).spec ?? {};
  const addresses: string[] = [];
  for (const port of spec.ports ?? []) {
    if (spec.clusterIP && spec.clusterIP !== "None") addresses.push(`${spec.clusterIP}:${port.port}`);
  }
  const slices = await cp.get(
    `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${name}`)}`,
  );
  if (slices.status !== 200)
    throw new Error(`LIST EndpointSlices of ${namespace}/${name} answered ${slices.status}`);
  for (const slice of (JSON.parse(slices.body) as EndpointSliceList).items ?? []) {
    for (const endpoint of slice.endpoints ?? []) {
      for (const port of slice.ports ?? []) {
        const ip = endpoint.addresses[0];
        if (ip && port.port) addresses.push(`${ip.includes(":") ? `[${ip}]` : ip}:${port.port}`);
      }
    }
  }
  for (const address of addresses) network.route(address, localPort);
  return addresses;
}
