// One control plane per test file, started and stopped by node:test hooks.
import { after, before } from "node:test";
import { type ControlPlane, type ControlPlaneOptions, startControlPlane } from "./control-plane.js";
import { type CrdName, installCrds } from "./crds.js";

export interface ControlPlaneFixtureOptions extends ControlPlaneOptions {
  /** CRDs from test/crds to install before the first test. */
  crds?: readonly CrdName[];
}

export interface ControlPlaneFixture {
  /** The running control plane; throws when read before the `before` hook ran. */
  readonly cp: ControlPlane;
}

/**
 * Registers `before`/`after` hooks in the calling test file (or suite) that start a control plane and
 * stop it, whatever the tests did:
 *
 *     const env = withControlPlane({ crds: ["trafficsplit-linkerd-smi"] });
 *     test("...", async () => { await env.cp.kubectl(["get", "ns"]); });
 */
export function withControlPlane(options: ControlPlaneFixtureOptions = {}): ControlPlaneFixture {
  let running: ControlPlane | undefined;
  before(
    async () => {
      running = await startControlPlane(options);
      if (options.crds?.length) await installCrds(running, options.crds);
    },
    { timeout: (options.readyTimeoutMs ?? 90_000) + 60_000 },
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
