// The real Prometheus of the tests lives beside the local cluster, where the demo starts it too.
export { PROMETHEUS_BINARY, type Prometheus, startPrometheus } from "../../src/localcluster/prometheus.js";
