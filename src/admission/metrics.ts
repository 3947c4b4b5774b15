import { Counter, Histogram, type Registry } from "prom-client";

export interface WebhookMetrics {
  requests: Counter<"outcome">;
  duration: Histogram<"outcome">;
}

export function createWebhookMetrics(registry: Registry): WebhookMetrics {
  return {
    requests: new Counter({
      name: "serin_admission_requests_total",
      help: "Admission requests answered, by outcome (allowed, patched, denied, errored, invalid).",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    duration: new Histogram({
      name: "serin_admission_duration_seconds",
      help: "Time from a decoded AdmissionReview to its answer.",
      labelNames: ["outcome"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
  };
}
