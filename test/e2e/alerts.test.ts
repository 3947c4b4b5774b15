import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { runCommand } from "../../src/localcluster/processes.js";
import {
  type Prometheus,
  registerWebhook,
  repoRoot,
  type SerinWebhook,
  startPrometheus,
  UNREADY_ANNOTATION,
  waitFor,
  withControlPlane,
} from "../harness/index.js";
import { Journey } from "./journey.js";
import { applyChartAccess, families, startRunReplica, waitForLog } from "./serin-run.js";

/**
 * The chart's PrometheusRule and Grafana dashboard, loaded into the real Prometheus scraping a real
 * `serin run`: the rules pass promtool, a canary stuck in Pending fires SerinCanaryStuck, and every
 * query of the dashboard is one Prometheus accepts, over metrics serin serves.
 */
const PROMTOOL = "/usr/bin/promtool";
const env = withControlPlane({ crds: ["trafficsplit-smi-upstream"] });
let serin: SerinWebhook;
let prometheus: Prometheus | undefined;
let dir = "";

interface Rendered {
  kind: string;
  spec?: { groups: { name: string; rules: { alert?: string; expr: string; for?: string }[] }[] };
  data?: Record<string, string>;
}

/** The chart rendered with its metrics objects on, and the Pending rule's `for:` made short. */
async function renderMetricsObjects(): Promise<{ rule: Rendered; dashboard: Rendered }> {
  const rendered = await env.cp.helm(3, [
    "template",
    "serin",
    `${repoRoot}/charts/serin`,
    "-n",
    "serin-system",
    "--set",
    "metrics.prometheusRule.enabled=true",
    "--set",
    "metrics.prometheusRule.canaryStuckFor.Pending=2s",
    "--set",
    "metrics.dashboard.enabled=true",
  ]);
  assert.equal(rendered.code, 0, rendered.stderr);
  const objects = parseAllDocuments(rendered.stdout).map((document) => document.toJSON() as Rendered | null);
  const rule = objects.find((object) => object?.kind === "PrometheusRule");
  const dashboard = objects.find((object) => object?.kind === "ConfigMap" && object.data?.["serin.json"]);
  assert.ok(rule?.spec && dashboard, "the chart renders a PrometheusRule and the dashboard's ConfigMap");
  return { rule, dashboard };
}

describe("the chart's alerts and dashboard in the real Prometheus", () => {
  let rule: Rendered;
  let dashboard: Rendered;

  before(
    async () => {
      dir = await mkdtemp(join(tmpdir(), "serin-alerts-"));
      ({ rule, dashboard } = await renderMetricsObjects());
      const kubeconfig = await applyChartAccess(env.cp);
      serin = await startRunReplica(env.cp, kubeconfig);
      await waitForLog(serin, "watcher started");
      await registerWebhook(env.cp, { port: serin.port, caBundle: serin.caBundle });
    },
    { timeout: 60_000 },
  );
  after(async () => {
    await prometheus?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("promtool check rules accepts the PrometheusRule's groups", async () => {
    assert.ok(
      existsSync(PROMTOOL),
      `${PROMTOOL} is missing: run scripts/setup.sh (Debian's prometheus package)`,
    );
    const file = join(dir, "rules.json");
    await writeFile(file, JSON.stringify({ groups: rule.spec?.groups }));
    const checked = await runCommand(PROMTOOL, ["check", "rules", file]);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assert.match(checked.stdout, /SUCCESS: \d+ rules found/);
    const alerts = new Set(rule.spec?.groups.flatMap((group) => group.rules.map((each) => each.alert)));
    assert.deepEqual([...alerts].sort(), [
      "SerinCanaryStuck",
      "SerinNoLeader",
      "SerinReconcileErrors",
      "SerinWebhookErrors",
    ]);
    const pending = rule.spec?.groups[0]?.rules.find((each) => each.expr.includes('phase="Pending"'));
    assert.equal(pending?.for, "2s", "the chart value sets the rule's for:");
  });

  test("a canary whose pods never become ready fires SerinCanaryStuck for Pending; nothing else fires", {
    timeout: 120_000,
  }, async () => {
    const journey = new Journey(env.cp, "stuck", { kind: "trafficsplit", version: "v1alpha4" });
    const annotations = { "serin.dev/progress-deadline": "1h" };
    await journey.create({ annotations });
    await journey.ship("registry.example/web:2.0.0", {
      annotations,
      podAnnotations: { [UNREADY_ANNOTATION]: "true" },
    });
    await journey.waitForPhase("Pending");

    prometheus = await startPrometheus([], 500, {
      jobs: [
        {
          name: "serin",
          targets: [`127.0.0.1:${serin.port}`],
          https: { ca: serin.caBundle, serverName: "localhost" },
        },
      ],
      rules: { groups: rule.spec?.groups },
    });
    const running = prometheus;
    const firing = await waitFor(
      async () => {
        const alerts = await running.query('ALERTS{alertname="SerinCanaryStuck", alertstate="firing"}');
        return alerts.length > 0 ? alerts : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "SerinCanaryStuck to fire" },
    );
    assert.deepEqual(
      firing.map((alert) => [alert.metric.namespace, alert.metric.name, alert.metric.phase]),
      [["stuck", "web", "Pending"]],
    );
    assert.equal((await journey.status())["serin.dev/phase"], "Pending", "still stuck, as the alert says");
    const others = await running.query('ALERTS{alertname!="SerinCanaryStuck"}');
    assert.deepEqual(
      others.map((alert) => alert.metric.alertname),
      [],
      "a leader, no reconcile errors, no admission errors",
    );
  });

  test("every query of the Grafana dashboard runs in Prometheus, over metrics serin serves", async () => {
    const running = prometheus;
    assert.ok(running, "Prometheus was started by the alert test");
    const model = JSON.parse(dashboard.data?.["serin.json"] ?? "{}") as {
      panels: { title: string; targets?: { expr: string }[] }[];
      templating: { list: { name: string; query?: string | { query: string } }[] };
    };
    const declared = await families(serin);
    // A histogram's series are its family's name with _bucket, _sum or _count.
    const served = (metric: string) =>
      declared.has(metric) || declared.get(metric.replace(/_(bucket|sum|count)$/, "")) === "histogram";
    const queries = [
      ...model.panels.flatMap((panel) =>
        (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })),
      ),
    ];
    assert.ok(queries.length >= 15, `${queries.length} queries`);
    for (const { panel, expr } of queries) {
      // As Grafana would send them: the variables at "All", the intervals filled in.
      const sent = expr
        .replaceAll("$namespace", ".*")
        .replaceAll("$name", ".*")
        .replaceAll("$__rate_interval", "1m")
        .replaceAll("$__range", "5m");
      await running.query(sent).catch((error: Error) => assert.fail(`${panel}: ${error.message}`));
      for (const metric of expr.match(/serin_[a-z_]+/g) ?? [])
        assert.ok(served(metric), `${panel}: ${metric} is not among serin's metrics`);
    }
    for (const variable of model.templating.list) {
      const query = typeof variable.query === "string" ? variable.query : variable.query?.query;
      if (variable.name === "datasource" || !query) continue;
      const metric = /label_values\((serin_[a-z_]+)/.exec(query)?.[1];
      assert.ok(metric && served(metric), `variable ${variable.name}: ${query}`);
    }
  });
});
