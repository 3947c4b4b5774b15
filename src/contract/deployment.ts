import type { V1Deployment, V1PodTemplateSpec } from "@kubernetes/client-node";
import {
  ENABLED_LABEL,
  ENABLED_VALUE,
  isPhase,
  type Phase,
  StatusLabel,
  TRACK_LABEL,
  UserKey,
} from "./keys.js";

/** Small readers over a Deployment object, shared by the webhook and the watcher. */

export function isEnabled(deployment: V1Deployment | undefined): boolean {
  return deployment?.metadata?.labels?.[ENABLED_LABEL] === ENABLED_VALUE;
}

export function annotationsOf(deployment: V1Deployment | undefined): Record<string, string> {
  return deployment?.metadata?.annotations ?? {};
}

/** The apex Service a Deployment routes through: `serin.dev/service`, or the Deployment's own name. */
export function apexServiceOf(deployment: V1Deployment | undefined): string {
  return annotationsOf(deployment)[UserKey.service] ?? deployment?.metadata?.name ?? "";
}

export function labelsOf(deployment: V1Deployment | undefined): Record<string, string> {
  return deployment?.metadata?.labels ?? {};
}

/** The phase serin (or the webhook) last wrote, from the label `serin.dev/phase`. */
export function phaseOf(deployment: V1Deployment | undefined): Phase | undefined {
  const phase = labelsOf(deployment)[StatusLabel.phase];
  return isPhase(phase) ? phase : undefined;
}

export function templateOf(deployment: V1Deployment | undefined): V1PodTemplateSpec | undefined {
  return deployment?.spec?.template;
}

export function hasTrackLabel(deployment: V1Deployment | undefined): boolean {
  return templateOf(deployment)?.metadata?.labels?.[TRACK_LABEL] !== undefined;
}
