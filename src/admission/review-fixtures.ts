import type { V1Deployment } from "@kubernetes/client-node";
import type { AdmissionRequest } from "./review.js";

/** AdmissionRequests shaped like the ones kube-apiserver sends, for unit tests of the webhook. */

export type ApplyShape = "client-side" | "server-side";

export interface DeploymentOptions {
  name?: string;
  namespace?: string;
  image?: string;
  enabled?: boolean;
  tracked?: boolean;
  annotations?: Record<string, string>;
  /** Labels of the Deployment besides `app` and the opt-in label (serin's phase, say). */
  labels?: Record<string, string>;
  replicas?: number;
  shape?: ApplyShape;
  generation?: number;
}

export function deployment(options: DeploymentOptions = {}): V1Deployment {
  const name = options.name ?? "web";
  const labels: Record<string, string> = { app: name, ...options.labels };
  const podLabels: Record<string, string> = { app: name };
  if (options.enabled ?? true) labels["serin.dev/canary"] = "enabled";
  if (options.tracked ?? true) podLabels["serin.dev/track"] = "stable";
  const annotations: Record<string, string> = { ...options.annotations };
  const shape = options.shape ?? "client-side";
  if (shape === "client-side") {
    annotations["kubectl.kubernetes.io/last-applied-configuration"] = JSON.stringify({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name, namespace: options.namespace ?? "shop", labels },
    });
  }
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      namespace: options.namespace ?? "shop",
      uid: "6f1c2a53-9e0b-4b8e-8f4c-0c1d2e3f4a5b",
      resourceVersion: "1042",
      generation: options.generation ?? 3,
      creationTimestamp: "2026-11-30T09:00:00Z" as unknown as Date,
      labels,
      annotations,
      managedFields: [
        {
          manager: shape === "client-side" ? "kubectl-client-side-apply" : "kubectl",
          operation: shape === "client-side" ? "Update" : "Apply",
          apiVersion: "apps/v1",
          time: "2026-11-30T09:00:00Z" as unknown as Date,
          fieldsType: "FieldsV1",
          fieldsV1: { "f:spec": { "f:template": { "f:spec": { "f:containers": {} } } } },
        },
      ],
    },
    spec: {
      replicas: options.replicas ?? 3,
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      selector: { matchLabels: { app: name } },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
      template: {
        metadata: { creationTimestamp: null as unknown as Date, labels: podLabels },
        spec: {
          containers: [
            {
              name: "app",
              image: options.image ?? "registry.example/web:1.0.0",
              ports: [{ containerPort: 8080, name: "http", protocol: "TCP" }],
              resources: {},
              terminationMessagePath: "/dev/termination-log",
              terminationMessagePolicy: "File",
              imagePullPolicy: "IfNotPresent",
            },
          ],
          restartPolicy: "Always",
          terminationGracePeriodSeconds: 30,
          dnsPolicy: "ClusterFirst",
          securityContext: {},
          schedulerName: "default-scheduler",
        },
      },
    },
    status: {},
  };
}

let counter = 0;

export function admissionRequest(
  operation: "CREATE" | "UPDATE",
  object: V1Deployment,
  oldObject?: V1Deployment,
  extra: Partial<AdmissionRequest> = {},
): AdmissionRequest {
  counter += 1;
  return {
    uid: `0d9b8c7a-0000-4000-8000-${String(counter).padStart(12, "0")}`,
    kind: { group: "apps", version: "v1", kind: "Deployment" },
    resource: { group: "apps", version: "v1", resource: "deployments" },
    name: object.metadata?.name ?? "",
    namespace: object.metadata?.namespace ?? "",
    operation,
    userInfo: { username: "alice", groups: ["system:authenticated"] },
    object,
    ...(oldObject ? { oldObject } : {}),
    dryRun: false,
    ...extra,
  };
}

export function review(request: AdmissionRequest, apiVersion = "admission.k8s.io/v1") {
  return { apiVersion, kind: "AdmissionReview", request };
}
