// The local kubelet's process half: a pod is a network namespace of its own (a veth pair to the host,
// an address in 10.250.0.0/16 routed to it), held by a sandbox process as the pause container holds it;
// its container is a process that joins that namespace, sees its volumes at their mountPaths and the
// image's files at the image's working dir in a root of its own (a private mount namespace and chroot),
// and runs as the pod's user with no capabilities and no privilege escalation. Not a container runtime:
// no image pulls, no cgroups, no seccomp. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN).
import { readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import type { ContainerPlan } from "./pod-plan.js";
import { runCommand, type ServerProcess, spawnServer, tailFile, waitFor } from "./processes.js";

/** Pod addresses; the host side of each pod's veth is named after the address, which reserves it. */
const POD_NETWORK = { first: 10, second: 250 } as const;

/** Runs a command that must succeed; its stderr is the error. */
async function must(command: string, args: readonly string[]): Promise<void> {
  const result = await runCommand(command, args, { timeoutMs: 10_000 });
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")}: ${result.stderr.trim()}`);
}

/**
 * Forwards connections on a unix socket to the apiserver's loopback port: a pod's own loopback cannot
 * reach the host's, and a unix socket is a file, seen from every network namespace.
 */
export async function startApiserverRelay(socketPath: string, apiserverPort: number): Promise<Server> {
  const server = createServer((pod) => {
    const apiserver = connect(apiserverPort, "127.0.0.1");
    pod.pipe(apiserver).pipe(pod);
    pod.on("error", () => apiserver.destroy());
    apiserver.on("error", () => pod.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, resolve);
  });
  return server;
}

// The sandbox: holds the namespaces, and inside them listens on the pod's 127.0.0.1:<apiserver port>,
// forwarding to the relay's socket; it tries until the pod's loopback is up, then says "ready".
const SANDBOX_SCRIPT = `
const net = require("node:net");
const [socketPath, port] = process.argv.slice(1);
const server = net.createServer((client) => {
  const relay = net.connect(socketPath);
  client.pipe(relay).pipe(client);
  client.on("error", () => relay.destroy());
  relay.on("error", () => client.destroy());
});
server.on("error", () => setTimeout(listen, 50));
const listen = () => server.listen(Number(port), "127.0.0.1", () => process.stdout.write("ready\\n"));
listen();
`;

export interface Sandbox {
  podIP: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts a pod's sandbox: namespaces, veth, address and routes, the apiserver link inside. */
export async function startSandbox(options: {
  hostname: string;
  relaySocket: string;
  apiserverPort: number;
  pidFile: string;
  logFile: string;
}): Promise<Sandbox> {
  const sandbox = spawnServer(
    "pod sandbox",
    "/usr/bin/unshare",
    [
      "--net",
      "--uts",
      "--",
      process.execPath,
      "-e",
      SANDBOX_SCRIPT,
      options.relaySocket,
      String(options.apiserverPort),
    ],
    { logFile: options.logFile, pidFile: options.pidFile },
  );
  const pid = sandbox.child.pid;
  const stop = () => sandbox.stop(0);
  try {
    if (!pid) throw new Error(`cannot start a pod sandbox: ${sandbox.exited()?.error ?? "no pid"}`);
    const inPod = (args: string[]) =>
      must("/usr/bin/nsenter", [`--target=${pid}`, "--net", "--uts", ...args]);
    // unshare has to have made the namespaces (and exec'd node) before they are entered.
    await waitFor(
      async () => (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(SANDBOX_SCRIPT) ? true : undefined),
      { timeoutMs: 5_000, intervalMs: 20, what: "the pod sandbox's namespaces" },
    );
    const podIP = await attachVeth(pid);
    await inPod(["/usr/bin/hostname", options.hostname]);
    await inPod(["/usr/sbin/ip", "link", "set", "lo", "up"]);
    await inPod(["/usr/sbin/ip", "addr", "add", `${podIP}/32`, "dev", "eth0"]);
    await inPod(["/usr/sbin/ip", "link", "set", "eth0", "up"]);
    // Every other address is on the host's side of the veth (which answers ARP for its own addresses).
    await inPod(["/usr/sbin/ip", "route", "add", "default", "dev", "eth0", "scope", "link"]);
    await waitFor(
      async () => (tailFile(options.logFile).includes("ready") ? true : undefined),
      { timeoutMs: 10_000, intervalMs: 20, what: "the pod sandbox's apiserver link" },
      () => {
        if (sandbox.exited()) throw new Error(`the pod sandbox exited: ${tailFile(options.logFile)}`);
      },
    );
    return { podIP, pid, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Creates the veth pair into the sandbox's namespace on the first free address; returns the address. */
async function attachVeth(pid: number): Promise<string> {
  const start = Math.floor(Math.random() * 0xfe00);
  for (let attempt = 0; attempt < 64; attempt++) {
    const index = ((start + attempt) % 0xfe00) + 0x100; // 10.250.1.0 and up
    const address = `${POD_NETWORK.first}.${POD_NETWORK.second}.${index >> 8}.${index & 0xff}`;
    if ((index & 0xff) === 0 || (index & 0xff) === 255) continue;
    const hostSide = `srn${index.toString(16).padStart(4, "0")}`;
    const added = await runCommand(
      "/usr/sbin/ip",
      ["link", "add", hostSide, "type", "veth", "peer", "name", "eth0", "netns", String(pid)],
      { timeoutMs: 10_000 },
    );
    if (added.code !== 0) {
      if (/exists/i.test(added.stderr)) continue;
      throw new Error(`ip link add ${hostSide}: ${added.stderr.trim()}`);
    }
    await must("/usr/sbin/ip", ["link", "set", hostSide, "up"]);
    await must("/usr/sbin/ip", ["route", "add", `${address}/32`, "dev", hostSide, "scope", "link"]);
    return address;
  }
  throw new Error("no free pod address in 10.250.0.0/16 after 64 tries");
}

const ETC_ENTRIES = ["passwd", "group", "hosts", "resolv.conf", "nsswitch.conf", "localtime", "ssl"];

const quote = (text: string) => `'${text.replaceAll("'", `'"'"'`)}'`;

/**
 * The shell script run in the container's new mount namespace: a root of its own (tmpfs) holding the
 * host's /usr and /etc read-only (the Node runtime), /proc and /dev, the image's files at its working
 * dir, and the volumes; read-only when asked; then chroot, drop to the pod's user, and exec.
 */
export function containerScript(
  plan: ContainerPlan,
  root: string,
  imageDir: string,
  imageWorkingDir: string,
  volumeDirs: ReadonlyMap<string, string>,
): string {
  const r = quote(root);
  const lines = [
    "set -e",
    `/usr/bin/mount -t tmpfs -o mode=0755 rootfs ${r}`,
    `cd ${r} && /usr/bin/mkdir -p usr etc proc dev tmp && /usr/bin/ln -s usr/bin bin && /usr/bin/ln -s usr/lib lib && /usr/bin/ln -s usr/lib64 lib64 && /usr/bin/ln -s usr/sbin sbin && cd /`,
  ];
  const bind = (source: string, target: string, readOnly: boolean, recursive = false) => {
    const path = `${root}${target}`;
    lines.push(`/usr/bin/mkdir -p ${quote(path)}`);
    lines.push(`/usr/bin/mount ${recursive ? "--rbind" : "--bind"} ${quote(source)} ${quote(path)}`);
    if (readOnly) lines.push(`/usr/bin/mount -o remount,bind,ro ${quote(path)}`);
  };
  bind("/usr", "/usr", true);
  // A few of the host's /etc files, as the base image has its own; /etc stays the pod's for mountPaths.
  for (const entry of ETC_ENTRIES) {
    const path = quote(`${root}/etc/${entry}`);
    lines.push(
      `if [ -d /etc/${entry} ]; then /usr/bin/mkdir -p ${path}; elif [ -e /etc/${entry} ]; then : > ${path}; fi`,
      `if [ -e /etc/${entry} ]; then /usr/bin/mount --bind /etc/${entry} ${path} && /usr/bin/mount -o remount,bind,ro ${path}; fi`,
    );
  }
  bind("/proc", "/proc", false, true);
  bind("/dev", "/dev", false, true);
  bind(imageDir, imageWorkingDir, true);
  for (const mount of plan.mounts) {
    const source = volumeDirs.get(mount.volume);
    if (!source) throw new Error(`volume ${mount.volume} was not prepared`);
    bind(mount.subPath ? join(source, mount.subPath) : source, mount.mountPath, mount.readOnly);
  }
  if (plan.readOnlyRootFilesystem) lines.push(`/usr/bin/mount -o remount,ro ${r}`);
  const drop = [
    "/usr/bin/setpriv",
    `--reuid=${plan.uid}`,
    `--regid=${plan.gid}`,
    "--clear-groups",
    "--no-new-privs",
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--",
    "/usr/bin/env",
    `--chdir=${plan.workingDir}`,
    ...plan.argv,
  ];
  lines.push(`exec /usr/sbin/chroot ${r} ${drop.map(quote).join(" ")}`);
  return lines.join("\n");
}

/** Starts the container's process in the sandbox; its output goes to `logFile`. */
export async function startContainer(options: {
  sandbox: Sandbox;
  plan: ContainerPlan;
  podDir: string;
  imageDir: string;
  imageWorkingDir: string;
  volumeDirs: ReadonlyMap<string, string>;
  run: number;
  pidFile: string;
}): Promise<ServerProcess> {
  const root = join(options.podDir, `root-${options.plan.name}-${options.run}`);
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const script = containerScript(
    options.plan,
    root,
    options.imageDir,
    options.imageWorkingDir,
    options.volumeDirs,
  );
  return spawnServer(
    `container ${options.plan.name}`,
    "/usr/bin/nsenter",
    [
      `--target=${options.sandbox.pid}`,
      "--net",
      "--uts",
      "--",
      "/usr/bin/unshare",
      "--mount",
      "--propagation=private",
      "--",
      "/bin/sh",
      "-c",
      script,
    ],
    {
      logFile: join(options.podDir, `${options.plan.name}.log`),
      pidFile: options.pidFile,
      env: Object.fromEntries(options.plan.env),
    },
  );
}
