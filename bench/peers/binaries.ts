// The peers' binaries: built on demand by bench/peers/build.sh into the control plane's cache, then read
// from the peers.env it writes there.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { parsePathsEnv, pathsEnvFile } from "../../src/localcluster/binaries.js";
import { repoRoot } from "../../src/localcluster/index.js";

export interface PeerBinary {
  binary: string;
  /** The folder of the peer's CRDs, copied from its module. */
  crds: string;
  version: string;
}

export interface PeerBinaries {
  flagger: PeerBinary;
  argoRollouts: PeerBinary;
}

const BUILD_SCRIPT = join(repoRoot, "bench", "peers", "build.sh");
/** A cold build of both takes about 8 minutes on 2 cores; a cached one well under a second. */
const BUILD_TIMEOUT_MS = 45 * 60_000;

export type PeerName = "flagger" | "argo-rollouts";

/** Runs the build script (a no-op when both are cached), its output on stderr, then reads peers.env. */
export async function buildPeers(cacheRoot?: string): Promise<PeerBinaries> {
  const values = await runBuild(["flagger", "argo-rollouts"], cacheRoot);
  return { flagger: values("FLAGGER"), argoRollouts: values("ARGO_ROLLOUTS") };
}

/** Builds one peer only (the other's build is not needed, nor waited for), then reads its lines. */
export async function buildPeer(name: PeerName, cacheRoot?: string): Promise<PeerBinary> {
  const values = await runBuild([name], cacheRoot);
  return values(name === "flagger" ? "FLAGGER" : "ARGO_ROLLOUTS");
}

async function runBuild(
  names: readonly PeerName[],
  cacheRoot?: string,
): Promise<(prefix: string) => PeerBinary> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn("bash", [BUILD_SCRIPT, ...names], {
      stdio: ["ignore", process.stderr, process.stderr],
      env: cacheRoot ? { ...process.env, SERIN_CACHE: cacheRoot } : process.env,
    });
    const timer = setTimeout(() => child.kill("SIGTERM"), BUILD_TIMEOUT_MS);
    child.once("error", (error) => reject(new Error(`cannot run ${BUILD_SCRIPT}: ${error.message}`)));
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${BUILD_SCRIPT} failed (${signal ?? `exit code ${code}`})`));
    });
  });
  const file = join(dirname(pathsEnvFile(cacheRoot)), "peers.env");
  const values = parsePathsEnv(await readFile(file, "utf8"));
  const required = (key: string) => {
    const value = values.get(key);
    if (!value) throw new Error(`${file} has no ${key}=: rerun ${BUILD_SCRIPT}`);
    return value;
  };
  return (prefix) => ({
    binary: required(prefix),
    crds: required(`${prefix}_CRDS`),
    version: required(`${prefix}_VERSION`),
  });
}
