// The apiserver's own request counters: API Priority and Fairness, read from GET /metrics, and a FlowSchema
// that gives one service account a flow of its own so that its requests are counted apart.

export type Sample = { labels: Record<string, string>; value: number };

/** The samples of one metric family in Prometheus text format. */
export function parseMetrics(text: string, name: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf("}");
    const labels: Record<string, string> = {};
    for (const match of line.slice(name.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[match[1] as string] = match[2] as string;
    samples.push({ labels, value: Number(line.slice(close + 1).trim()) });
  }
  return samples;
}

/** The sum of a metric's samples whose flow_schema label is `flowSchema`. */
export function flowSchemaTotal(text: string, metric: string, flowSchema: string): number {
  return parseMetrics(text, metric)
    .filter((sample) => sample.labels.flow_schema === flowSchema)
    .reduce((sum, sample) => sum + sample.value, 0);
}

/**
 * A FlowSchema matching only the service account NAMESPACE/NAME, ahead of the suggested "service-accounts"
 * schema (9000) and on the priority level that one gives it, so nothing about its treatment changes.
 */
export function serviceAccountFlowSchema(flowSchema: string, namespace: string, name: string) {
  return {
    apiVersion: "flowcontrol.apiserver.k8s.io/v1",
    kind: "FlowSchema",
    metadata: { name: flowSchema },
    spec: {
      matchingPrecedence: 500,
      priorityLevelConfiguration: { name: "workload-low" },
      distinguisherMethod: { type: "ByUser" },
      rules: [
        {
          subjects: [{ kind: "ServiceAccount", serviceAccount: { name, namespace } }],
          resourceRules: [
            { verbs: ["*"], apiGroups: ["*"], resources: ["*"], clusterScope: true, namespaces: ["*"] },
          ],
          nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }],
        },
      ],
    },
  };
}
