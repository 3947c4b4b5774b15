// The end-to-end harness: the local cluster of src/localcluster (with the real Prometheus and the
// Linkerd-shaped metrics the demo uses too), plus what only tests need: one cluster per test file.
export * from "../../src/localcluster/index.js";
export { type HeldRequest, type HoldingWebhook, startHoldingWebhook } from "./holding-webhook.js";
export { type LinkerdMetrics, startLinkerdMetrics, type Traffic } from "./linkerd-metrics.js";
export { PROMETHEUS_BINARY, type Prometheus, startPrometheus } from "./prometheus.js";
export {
  type ControlPlaneFixture,
  type ControlPlaneFixtureOptions,
  testClusterOptions,
  withControlPlane,
} from "./with-control-plane.js";
