import type { V1Deployment, V1DeploymentSpec } from "@kubernetes/client-node";
import { annotationsOf, hasTrackLabel, isEnabled, phaseOf, templateOf } from "../contract/deployment.js";
import { formatDuration } from "../contract/duration.js";
import { PendingKey, type Phase, StatusLabel, TRACK_LABEL, UserKey } from "../contract/keys.js";
import { sameRevision, templateRevision, withoutTrackLabel } from "../contract/revision.js";
import {
  type AnnotationError,
  type CanarySpec,
  describeError,
  parseCanarySpec,
  type SpecOptions,
} from "../contract/spec.js";
import { describeSteps } from "../contract/steps.js";
import { type AdmissionRequest, allowed, denied, patched, type Verdict } from "./review.js";

export interface MutateOptions {
  spec?: SpecOptions;
}

/** Phases in which a pending revision is being (or about to be) canaried. */
const IN_FLIGHT: ReadonlySet<Phase> = new Set([
  "Initializing",
  "Pending",
  "Progressing",
  "Paused",
  "Promoting",
]);

/**
 * The whole webhook as a pure function: the DESIGN.md rules for CREATE and UPDATE of an enabled
 * Deployment. It only ever changes the object it is given, so it is safe for dry-run requests.
 */
export function mutateDeployment(request: AdmissionRequest, options: MutateOptions = {}): Verdict {
  if (request.kind.group !== "apps" || request.kind.kind !== "Deployment" || request.subResource)
    return allowed();
  if (request.operation !== "CREATE" && request.operation !== "UPDATE") return allowed();
  const deployment = request.object as V1Deployment | undefined;
  // Removing the label is how a user opts out; the watcher cleans up from there.
  if (!isEnabled(deployment) || !deployment?.spec?.template) return allowed();
  const newTemplate = deployment.spec.template;

  const old = request.operation === "UPDATE" ? (request.oldObject as V1Deployment | undefined) : undefined;
  const name = deployment.metadata?.name || request.name || "";
  const namespace = deployment.metadata?.namespace || request.namespace;
  const parsed = parseCanarySpec(deployment.metadata?.annotations, name, {
    ...options.spec,
    ...(namespace ? { namespace } : {}),
  });
  const oldTemplate = old && hasTrackLabel(old) ? templateOf(old) : undefined;
  const templateChanged = oldTemplate !== undefined && !sameRevision(oldTemplate, newTemplate);

  if (!parsed.ok) {
    // Values that were already stored pass with a warning, so that scaling or a status write is never
    // blocked by a mistake made before serin was installed; anything new, or a new revision, is denied.
    const introduced = parsed.errors.filter(
      (error) => old === undefined || annotationsOf(old)[error.key] !== annotationsOf(deployment)[error.key],
    );
    if (introduced.length > 0 || templateChanged) return denied(denialMessage(request, parsed.errors));
    return allowed(parsed.errors.map((error) => `serin: ${describeError(error)}`));
  }

  // Copies along the changed paths only: the patch is computed against the untouched request object.
  const labels = { ...newTemplate.metadata?.labels, [TRACK_LABEL]: "stable" };
  const mutatedSpec: V1DeploymentSpec = {
    ...deployment.spec,
    template: { ...newTemplate, metadata: { ...newTemplate.metadata, labels } },
  };
  const mutated: V1Deployment = { ...deployment, spec: mutatedSpec };

  // CREATE, or first enablement of an existing Deployment: a plain rollout; canaries start from the next change.
  if (!old || !oldTemplate || !templateChanged) return patched(mutated);

  const newRevision = templateRevision(newTemplate);
  const current = annotationsOf(deployment);
  const stored = annotationsOf(old);

  // serin's own promotion write: the pending template is being copied onto the Deployment.
  if (phaseOf(deployment) === "Promoting" && current[PendingKey.revision] === newRevision) {
    return patched(mutated);
  }

  const storedPhase = phaseOf(old);
  if (stored[PendingKey.revision] === newRevision && storedPhase !== undefined) {
    if (IN_FLIGHT.has(storedPhase)) {
      mutatedSpec.template = oldTemplate;
      return patched(mutated, [
        `serin: revision ${newRevision} is already in its canary (${storedPhase}); nothing restarted`,
      ]);
    }
    if (storedPhase === "Aborted") {
      mutatedSpec.template = oldTemplate;
      if (current[UserKey.action] === "retry") return patched(mutated);
      return patched(mutated, [
        `serin: revision ${newRevision} was aborted and stays held back; change the pod template or set ${UserKey.action}: retry`,
      ]);
    }
  }

  mutatedSpec.template = oldTemplate;
  mutated.metadata = {
    ...mutated.metadata,
    labels: { ...mutated.metadata?.labels, [StatusLabel.phase]: "Pending" },
    annotations: {
      ...current,
      [PendingKey.template]: JSON.stringify(withoutTrackLabel(newTemplate)),
      [PendingKey.revision]: newRevision,
    },
  };
  return patched(mutated, [holdBackWarning(newRevision, parsed.spec)]);
}

function holdBackWarning(revision: string, spec: CanarySpec): string {
  return `serin: revision ${revision} held back for a canary: steps ${describeSteps(spec.steps)}, ${formatDuration(spec.stepIntervalMs)} each`;
}

function denialMessage(request: AdmissionRequest, errors: readonly AnnotationError[]): string {
  const where = [request.namespace, request.name].filter(Boolean).join("/");
  return `serin: invalid canary annotations on Deployment ${where}: ${errors.map(describeError).join(" | ")}`;
}
