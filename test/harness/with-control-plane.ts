// One local cluster per test file, started and stopped by node:test hooks.
import { after, before } from "node:test";
import {
  type ControlPlane,
  type ControlPlaneOptions,
  startControlPlane,
} from "../../src/localcluster/control-plane.js";
import { type CrdName, installCrds } from "../../src/localcluster/crds.js";

export interface ControlPlaneFixtureOptions extends ControlPlaneOptions {
  /** CRDs from src/localcluster/crds to install before the first test. */
  crds?: readonly CrdName[];
}

export interface ControlPlaneFixture {
  /** The running control plane; throws when read before the `before` hook ran. */
  readonly cp: ControlPlane;
}

/**
 * What the tests' environment says about the local cluster: `SERIN_CACHE` (where the build script put the
 * binaries) and `SERIN_KUBERNETES` (the Kubernetes minor to run, such as 1.37; default the build's default).
 */
export function testClusterOptions(env: NodeJS.ProcessEnv = process.env): ControlPlaneOptions {
  return {
    ...(env.SERIN_CACHE ? { cacheRoot: env.SERIN_CACHE } : {}),
    ...(env.SERIN_KUBERNETES ? { kubernetesVersion: env.SERIN_KUBERNETES } : {}),
  };
}

/**
 * Registers `before`/`after` hooks in the calling test file (or suite) that start a local cluster and
 * stop it, whatever the tests did:
 *
 *     const env = withControlPlane({ crds: ["trafficsplit-linkerd-smi"] });
 *     test("...", async () => { await env.cp.kubectl(["get", "ns"]); });
 */
export function withControlPlane(options: ControlPlaneFixtureOptions = {}): ControlPlaneFixture {
  let running: ControlPlane | undefined;
  before(
    async () => {
      running = await startControlPlane({ ...testClusterOptions(), ...options });
      if (options.crds?.length) await installCrds(running, options.crds);
    },
    { timeout: (options.readyTimeoutMs ?? 90_000) + 90_000 },
  );
  after(async () => {
    await running?.stop();
  });
  return {
    get cp(): ControlPlane {
      if (!running)
        throw new Error("the control plane is not running: withControlPlane's before hook has not run");
      return running;
    },
  };
}
