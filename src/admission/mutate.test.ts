import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { V1Deployment } from "@kubernetes/client-node";
import jsonPatch from "fast-json-patch";
import { templateRevision } from "../contract/revision.js";
import { mutateDeployment } from "./mutate.js";
import type { AdmissionRequest } from "./review.js";
import { type AdmissionResponse, complete } from "./review.js";
import { type ApplyShape, admissionRequest, deployment } from "./review-fixtures.js";

const { applyPatch } = jsonPatch;

interface Admitted {
  response: AdmissionResponse;
  stored: V1Deployment;
}

/** Runs the webhook and applies its patch, as kube-apiserver would before storing the object. */
function admit(request: AdmissionRequest): Admitted {
  const response = complete(request.uid, request.object, mutateDeployment(request));
  const original = structuredClone(request.object) as V1Deployment;
  const stored = response.patch
    ? (applyPatch(original, JSON.parse(Buffer.from(response.patch, "base64").toString()))
        .newDocument as V1Deployment)
    : original;
  return { response, stored };
}

const ann = (object: V1Deployment) => object.metadata?.annotations ?? {};
const phaseOf = (object: V1Deployment) => object.metadata?.labels?.["serin.dev/phase"];
const image = (object: V1Deployment) => object.spec?.template.spec?.containers[0]?.image;
const V1 = "registry.example/web:1.0.0";
const V2 = "registry.example/web:2.0.0";

for (const shape of ["client-side", "server-side"] as ApplyShape[]) {
  describe(`webhook rules (${shape} apply)`, () => {
    // serin keeps the phase and weight as labels: status given among the annotations goes there.
    const stable = (options: Parameters<typeof deployment>[0] = {}) => {
      const {
        "serin.dev/phase": phase,
        "serin.dev/weight": weight,
        ...annotations
      } = options.annotations ?? {};
      const labels = {
        ...(phase ? { "serin.dev/phase": phase } : {}),
        ...(weight ? { "serin.dev/weight": weight } : {}),
      };
      return deployment({ shape, ...options, annotations, labels: { ...options.labels, ...labels } });
    };

    test("creating an enabled Deployment labels its pods as the stable track", () => {
      const { response, stored } = admit(admissionRequest("CREATE", stable({ tracked: false })));
      assert.equal(response.allowed, true);
      assert.equal(response.patchType, "JSONPatch");
      assert.equal(stored.spec?.template.metadata?.labels?.["serin.dev/track"], "stable");
      assert.deepEqual(
        stored.spec?.selector,
        { matchLabels: { app: "web" } },
        "the selector is immutable and untouched",
      );
    });

    test("a Deployment without the opt-in label is not touched", () => {
      const { response } = admit(
        admissionRequest("UPDATE", stable({ enabled: false, image: V2 }), stable({ enabled: false })),
      );
      assert.deepEqual(response, { uid: response.uid, allowed: true });
    });

    test("a new image is held back as the pending revision with phase Pending and a warning", () => {
      const old = stable();
      const updated = stable({ image: V2, tracked: false, replicas: 5 });
      const { response, stored } = admit(admissionRequest("UPDATE", updated, old));
      const revision = templateRevision(updated.spec?.template);
      assert.equal(image(stored), V1, "the running template stays");
      assert.equal(stored.spec?.replicas, 5, "other spec changes pass through");
      assert.equal(ann(stored)["serin.dev/pending-revision"], revision);
      assert.equal(phaseOf(stored), "Pending");
      const pending = JSON.parse(ann(stored)["serin.dev/pending-template"] ?? "{}");
      assert.equal(pending.spec.containers[0].image, V2);
      assert.equal(templateRevision(pending), revision, "the stored template hashes to the stored revision");
      assert.equal(response.warnings?.length, 1);
      assert.match(
        response.warnings?.[0] ?? "",
        new RegExp(`revision ${revision} held back.*10%, 25%, 50%, 75%, 1m each`),
      );
    });

    test("re-admitting the webhook's own output yields an empty patch", () => {
      const old = stable();
      const first = admit(admissionRequest("UPDATE", stable({ image: V2 }), old));
      const again = admit(admissionRequest("UPDATE", first.stored, old));
      assert.equal(again.response.patch, undefined);
      assert.equal(again.response.patchType, undefined);
      assert.equal(again.response.allowed, true);
    });

    test("re-applying the same revision mid-canary restarts nothing", () => {
      const revision = templateRevision(stable({ image: V2 }).spec?.template);
      for (const phase of ["Pending", "Progressing", "Paused"]) {
        const inFlight = {
          "serin.dev/phase": phase,
          "serin.dev/pending-revision": revision,
          "serin.dev/state": '{"step":1}',
          "serin.dev/weight": "25",
        };
        const old = stable({ annotations: inFlight });
        const { response, stored } = admit(
          admissionRequest("UPDATE", stable({ image: V2, annotations: inFlight }), old),
        );
        assert.equal(image(stored), V1);
        assert.deepEqual(ann(stored), ann(old), `${phase}: no annotation changes`);
        assert.match(response.warnings?.[0] ?? "", /already in its canary.*nothing restarted/);
      }
    });

    test("the revision that was just aborted stays held back with a warning that says how to retry", () => {
      const revision = templateRevision(stable({ image: V2 }).spec?.template);
      const aborted = { "serin.dev/phase": "Aborted", "serin.dev/pending-revision": revision };
      const old = stable({ annotations: aborted });
      const { response, stored } = admit(
        admissionRequest("UPDATE", stable({ image: V2, annotations: aborted }), old),
      );
      assert.equal(image(stored), V1);
      assert.equal(phaseOf(stored), "Aborted");
      assert.match(
        response.warnings?.[0] ?? "",
        /aborted.*change the pod template or set serin\.dev\/action: retry/,
      );
    });

    test("the aborted revision with action retry is kept back silently for the watcher to restart", () => {
      const revision = templateRevision(stable({ image: V2 }).spec?.template);
      const aborted = { "serin.dev/phase": "Aborted", "serin.dev/pending-revision": revision };
      const old = stable({ annotations: aborted });
      const retry = stable({ image: V2, annotations: { ...aborted, "serin.dev/action": "retry" } });
      const { response, stored } = admit(admissionRequest("UPDATE", retry, old));
      assert.equal(image(stored), V1);
      assert.equal(ann(stored)["serin.dev/action"], "retry");
      assert.equal(response.warnings, undefined);
    });

    test("a different revision after an abort starts a new canary", () => {
      const aborted = { "serin.dev/phase": "Aborted", "serin.dev/pending-revision": "0123456789" };
      const { stored } = admit(
        admissionRequest(
          "UPDATE",
          stable({ image: V2, annotations: aborted }),
          stable({ annotations: aborted }),
        ),
      );
      assert.equal(phaseOf(stored), "Pending");
      assert.equal(
        ann(stored)["serin.dev/pending-revision"],
        templateRevision(stable({ image: V2 }).spec?.template),
      );
    });

    test("a third revision mid-canary replaces the pending one", () => {
      const v2 = templateRevision(stable({ image: V2 }).spec?.template);
      const inFlight = {
        "serin.dev/phase": "Progressing",
        "serin.dev/pending-revision": v2,
        "serin.dev/weight": "25",
      };
      const v3 = stable({ image: "registry.example/web:3.0.0", annotations: inFlight });
      const { stored } = admit(admissionRequest("UPDATE", v3, stable({ annotations: inFlight })));
      assert.equal(image(stored), V1);
      assert.equal(ann(stored)["serin.dev/pending-revision"], templateRevision(v3.spec?.template));
      assert.equal(phaseOf(stored), "Pending");
    });

    test("serin's own promotion write copies the pending template onto the Deployment", () => {
      const revision = templateRevision(stable({ image: V2 }).spec?.template);
      const before = { "serin.dev/phase": "Progressing", "serin.dev/pending-revision": revision };
      const promoting = { "serin.dev/phase": "Promoting", "serin.dev/pending-revision": revision };
      const { response, stored } = admit(
        admissionRequest(
          "UPDATE",
          stable({ image: V2, annotations: promoting }),
          stable({ annotations: before }),
        ),
      );
      assert.equal(response.allowed, true);
      assert.equal(image(stored), V2);
      assert.equal(stored.spec?.template.metadata?.labels?.["serin.dev/track"], "stable");
    });

    test("first enablement of an existing Deployment is a plain rolling update", () => {
      const old = stable({ enabled: false, tracked: false });
      const { response, stored } = admit(
        admissionRequest("UPDATE", stable({ image: V2, tracked: false }), old),
      );
      assert.equal(image(stored), V2);
      assert.equal(stored.spec?.template.metadata?.labels?.["serin.dev/track"], "stable");
      assert.equal(ann(stored)["serin.dev/pending-revision"], undefined);
      assert.equal(response.warnings, undefined);
    });

    test("an unchanged template with the track label dropped gets only the label back", () => {
      const { response } = admit(
        admissionRequest("UPDATE", stable({ tracked: false, replicas: 7 }), stable()),
      );
      const operations = JSON.parse(Buffer.from(response.patch ?? "", "base64").toString());
      assert.deepEqual(operations, [
        { op: "add", path: "/spec/template/metadata/labels/serin.dev~1track", value: "stable" },
      ]);
    });

    test("invalid annotations deny the request naming each bad key, its value and what is allowed", () => {
      const bad = stable({ annotations: { "serin.dev/steps": "10,5", "serin.dev/step-interval": "soon" } });
      const { response } = admit(admissionRequest("CREATE", bad));
      assert.equal(response.allowed, false);
      assert.equal(response.patch, undefined);
      const message = response.status?.message ?? "";
      assert.match(message, /serin\.dev\/steps="10,5" is not strictly increasing: 5 follows 10; allowed: /);
      assert.match(message, /serin\.dev\/step-interval="soon" is not a duration; allowed: a Go duration/);
      assert.match(message, /shop\/web/);
    });
  });
}

describe("webhook rules for values stored before", () => {
  test("a bad value already stored does not block scaling, and warns", () => {
    const bad = { "serin.dev/steps": "50,10" };
    const { response, stored } = admit(
      admissionRequest(
        "UPDATE",
        deployment({ annotations: bad, replicas: 9 }),
        deployment({ annotations: bad }),
      ),
    );
    assert.equal(response.allowed, true);
    assert.equal(stored.spec?.replicas, 9);
    assert.match(response.warnings?.[0] ?? "", /serin\.dev\/steps="50,10"/);
  });

  test("a bad value already stored blocks a new revision: it cannot be canaried", () => {
    const bad = { "serin.dev/steps": "50,10" };
    const { response } = admit(
      admissionRequest(
        "UPDATE",
        deployment({ annotations: bad, image: V2 }),
        deployment({ annotations: bad }),
      ),
    );
    assert.equal(response.allowed, false);
  });

  test("requests for other kinds, subresources and deletes are allowed untouched", () => {
    const base = admissionRequest("UPDATE", deployment({ image: V2 }), deployment());
    for (const request of [
      { ...base, subResource: "status" },
      { ...base, kind: { group: "", version: "v1", kind: "Pod" } },
      { ...base, operation: "DELETE" as const },
    ]) {
      assert.deepEqual(admit(request).response, { uid: base.uid, allowed: true });
    }
  });

  test("dry-run requests get exactly the same patch", () => {
    const old = deployment();
    const request = admissionRequest("UPDATE", deployment({ image: V2 }), old);
    const dry = admit({ ...request, dryRun: true });
    assert.equal(dry.response.patch, admit(request).response.patch);
  });
});
