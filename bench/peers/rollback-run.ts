// One controller, one app, a fresh local control plane: with the canary held at its first weight, the
// time from the rollback trigger its users have to the split back at stable 100%, trial after trial.
import { loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { installCrds, startControlPlane } from "../../src/localcluster/index.js";
import { describeApiError } from "../../src/watch/kube.js";
import { RawJsonClient } from "../../src/watch/raw-json.js";
import { summarize } from "../lib/stats.js";
import { type App, type AppSpec, appKey, type Contender } from "./contender.js";
import { Observer, wallNow } from "./observe.js";
import type { RollbackResult } from "./results.js";
import { V1, V2 } from "./scale-run.js";
import { createObjects, send } from "./writes.js";

export interface RollbackOptions {
  trials: number;
  /** Trials run first and not counted. */
  warmup: number;
  stepSeconds: number;
  gate: AppSpec["gate"];
  log: (message: string) => void;
  /** Keep the control plane's folder (every component's log) after the run. */
  keepDir: boolean;
}

/** How each controller's users roll a canary back, as the report names it. */
export const TRIGGERS: Record<Contender["id"], string> = {
  serin: "`serin.dev/action=abort` annotation (merge PATCH of the Deployment)",
  flagger: "the step's `rollout` webhook gate starts failing (Flagger has no abort command)",
  "argo-rollouts": "`kubectl argo rollouts abort`'s PATCH of the Rollout's status (`status.abort: true`)",
};

const TRIAL_TIMEOUT_MS = 120_000;
/** Flagger needs a tick to see a new revision, one to ready the canary and one for the first weight. */
const REARM_TIMEOUT_MS = 120_000;

export async function runRollback(contender: Contender, options: RollbackOptions): Promise<RollbackResult> {
  const loadStart = loadavg();
  const date = new Date().toISOString();
  const app: App = { namespace: "rollback", name: "web" };
  const key = appKey(app);
  const first = 1_000; // the first step, 10%, out of 10,000
  const spec: AppSpec = {
    steps: [10, 50],
    stepSeconds: options.stepSeconds,
    image: V1,
    gate: options.gate,
    holdAtFirstStep: true,
  };
  const cp = await startControlPlane({ readyTimeoutMs: 120_000, keepDir: options.keepDir });
  const observer = new Observer(cp.kubeConfig(), contender);
  if (options.keepDir) options.log(`${contender.title}: logs kept in ${cp.dir}`);
  options.gate.holding = (held) => held === key && (observer.canary(key) ?? 0) > 0;
  try {
    await installCrds(cp, ["trafficsplit-smi-upstream"]);
    await contender.install(cp);
    await contender.start(cp, {
      concurrency: undefined,
      extraArgs: [],
      logFile: join(cp.dir, `${contender.id}.log`),
    });
    observer.track([app]);
    await observer.start();
    const raw = new RawJsonClient(cp.kubeConfig(), "bench");
    await createObjects(raw, [{ apiVersion: "v1", kind: "Namespace", metadata: { name: app.namespace } }], 1);
    await createObjects(raw, contender.namespaceObjects(app.namespace, spec), 1);
    await createObjects(raw, contender.appObjects(app, spec), 1);
    await observer.when(() => observer.state(key) === "ready", `${key} ready`, REARM_TIMEOUT_MS);
    observer.image = V2;
    await send(raw, contender.ship(app, V2), `ship ${key}`);
    await observer.when(() => observer.canary(key) === first, `${key} at 10%`, REARM_TIMEOUT_MS);

    const context = { raw, gate: options.gate };
    const latencies: number[] = [];
    let rearmRetries = 0;
    for (let trial = 0; trial < options.warmup + options.trials; trial++) {
      // A random moment within one step interval: a controller that acts on a ticker (Flagger) is met
      // at every phase of its tick, not always just after the tick that set the weight.
      await sleep(500 + Math.random() * options.stepSeconds * 1000);
      const sent = wallNow();
      await contender.triggerRollback(app, context);
      const at = await observer.when(() => observer.canary(key) === 0, `${key} back at 0%`, TRIAL_TIMEOUT_MS);
      if (trial >= options.warmup) latencies.push(at - sent);
      options.log(`${contender.title}: rollback trial ${trial + 1}: ${(at - sent).toFixed(0)} ms`);
      // Re-arm once the controller has finished rolling back (its state says so), not on the split
      // alone: Flagger records the Deployment's spec when it marks the canary Failed, so a revision
      // shipped between its split write and that mark would count as already rolled back.
      await observer.when(
        () => observer.state(key) === "failed",
        `${key} marked rolled back`,
        TRIAL_TIMEOUT_MS,
      );
      // A canary that does not come back to its first weight is re-armed once more (for Flagger, with a
      // further revision), as its user would; how often that was needed is reported.
      for (let attempt = 0; ; attempt++) {
        await contender.rearm(app, trial * 10 + attempt, context);
        const back = await observer
          .when(() => observer.canary(key) === first, `${key} at 10% again`, REARM_TIMEOUT_MS)
          .then(() => true)
          .catch(() => false);
        if (back) break;
        if (attempt >= 2) throw new Error(`${key} did not come back to 10% after ${attempt + 1} re-arms`);
        rearmRetries += 1;
        options.log(
          `${contender.title}: trial ${trial + 1}: not back at 10% after a re-arm; re-arming again`,
        );
      }
    }
    return {
      kind: "rollback",
      controller: contender.id,
      title: contender.title,
      version: contender.version,
      concurrency: contender.concurrency.default,
      concurrencyFlag: contender.concurrency.flag,
      defaultConcurrency: true,
      settings: contender.settings,
      date,
      loadavg: { start: loadStart, end: loadavg() },
      trigger: TRIGGERS[contender.id],
      latencyMs: summarize(latencies),
      rearmRetries,
    };
  } catch (error) {
    throw new Error(`${contender.title} rollback: ${describeApiError(error)}`);
  } finally {
    options.gate.holding = () => false;
    observer.stop();
    await cp.stop();
  }
}
