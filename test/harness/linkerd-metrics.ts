// Linkerd-shaped metrics live beside the local cluster, where the demo serves them too.
export {
  type LinkerdMetrics,
  startLinkerdMetrics,
  type Traffic,
} from "../../src/localcluster/linkerd-metrics.js";
