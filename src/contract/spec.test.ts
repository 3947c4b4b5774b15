import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type AnnotationError, describeError, parseCanarySpec } from "./spec.js";
import { allowlistPolicy } from "./test-urls.js";

function errorsOf(annotations: Record<string, string>, name = "web"): AnnotationError[] {
  const result = parseCanarySpec(annotations, name);
  assert.equal(result.ok, false, JSON.stringify(annotations));
  return result.ok ? [] : result.errors;
}

test("no annotations at all give DESIGN.md's defaults", () => {
  const result = parseCanarySpec(undefined, "web");
  assert.ok(result.ok);
  assert.deepEqual(result.spec, {
    service: "web",
    steps: [
      { kind: "weight", weight: 1_000, text: "10" },
      { kind: "weight", weight: 2_500, text: "25" },
      { kind: "weight", weight: 5_000, text: "50" },
      { kind: "weight", weight: 7_500, text: "75" },
    ],
    stepIntervalMs: 60_000,
    analysis: [],
    analysisIntervalMs: 15_000,
    failureLimit: 2,
    tests: [],
    progressDeadlineMs: 600_000,
    action: undefined,
  });
});

test("every annotation is read", () => {
  const result = parseCanarySpec(
    {
      "serin.dev/service": "shop-api",
      "serin.dev/steps": "0.1,1,pause,50",
      "serin.dev/step-interval": "1h30m",
      "serin.dev/analysis": "success-rate>=99, latency-p99<=500ms, error-budget<=0.5",
      "serin.dev/analysis-interval": "30s",
      "serin.dev/failure-limit": "0",
      "serin.dev/tests": "http://smoke.shop.svc:8080/run,https://load-test/go",
      "serin.dev/progress-deadline": "2m",
      "serin.dev/action": "pause",
    },
    "web",
  );
  assert.ok(result.ok);
  const spec = result.spec;
  assert.equal(spec.service, "shop-api");
  assert.equal(spec.steps.length, 4);
  assert.equal(spec.stepIntervalMs, 5_400_000);
  assert.deepEqual(
    spec.analysis.map(({ name, op, threshold }) => [name, op, threshold]),
    [
      ["success-rate", ">=", 99],
      ["latency-p99", "<=", 500],
      ["error-budget", "<=", 0.5],
    ],
  );
  assert.equal(spec.analysisIntervalMs, 30_000);
  assert.equal(spec.failureLimit, 0);
  assert.deepEqual(spec.tests, ["http://smoke.shop.svc:8080/run", "https://load-test/go"]);
  assert.equal(spec.progressDeadlineMs, 120_000);
  assert.equal(spec.action, "pause");
});

test("each bad value is reported with its key, its value and what is allowed", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { "serin.dev/service": "Shop_API" },
      /^serin\.dev\/service="Shop_API" is not a valid Service name; allowed: a Service name/,
    ],
    [{ "serin.dev/service": "a".repeat(57) }, /longer than 56 characters/],
    [
      { "serin.dev/steps": "10,5" },
      /^serin\.dev\/steps="10,5" is not strictly increasing: 5 follows 10; allowed: comma-separated percentages/,
    ],
    [{ "serin.dev/steps": "0.125" }, /more than 2 decimals/],
    [{ "serin.dev/steps": "10,soon" }, /"soon", which is neither a number nor "pause"/],
    [
      { "serin.dev/step-interval": "10" },
      /^serin\.dev\/step-interval="10" is not a duration; allowed: a Go duration of at least 1s/,
    ],
    [{ "serin.dev/step-interval": "500ms" }, /^serin\.dev\/step-interval="500ms" is shorter than 1s/],
    [{ "serin.dev/analysis-interval": "0" }, /^serin\.dev\/analysis-interval="0" is shorter than 1s/],
    [
      { "serin.dev/progress-deadline": "ten minutes" },
      /^serin\.dev\/progress-deadline="ten minutes" is not a duration/,
    ],
    [
      { "serin.dev/failure-limit": "-1" },
      /^serin\.dev\/failure-limit="-1" is not a whole number; allowed: a whole number/,
    ],
    [
      { "serin.dev/action": "rollback" },
      /^serin\.dev\/action="rollback" is not a known action; allowed: one of promote, abort, pause, resume, retry$/,
    ],
    [
      { "serin.dev/analysis": "success-rate>99" },
      /"success-rate>99", which is not NAME>=VALUE or NAME<=VALUE; allowed: comma-separated checks/,
    ],
    [{ "serin.dev/analysis": "success-rate<=99" }, /success-rate takes >=/],
    [{ "serin.dev/analysis": "success-rate>=101" }, /success-rate needs a percentage from 0 to 100/],
    [{ "serin.dev/analysis": "latency-p99<=500" }, /latency-p99 needs a duration such as 500ms/],
    [{ "serin.dev/analysis": "latency-p99>=5ms" }, /latency-p99 takes <=/],
    [{ "serin.dev/analysis": "errors<=few" }, /errors needs a number/],
    [{ "serin.dev/analysis": "sum(rate(x[1m]))<=1" }, /not NAME>=VALUE/],
    [{ "serin.dev/analysis": "errors<=1,errors<=2" }, /checks errors<= twice/],
    [
      { "serin.dev/tests": "ftp://smoke/run" },
      /^serin\.dev\/tests="ftp:\/\/smoke\/run" has "ftp:\/\/smoke\/run", which is not http\(s\)/,
    ],
    [{ "serin.dev/tests": "not a url" }, /which is not a URL/],
    [{ "serin.dev/tests": "https://evil.example.com/x" }, /whose host is not a cluster-local Service host/],
  ];
  for (const [annotations, expected] of cases) {
    const errors = errorsOf(annotations);
    assert.equal(errors.length, 1, JSON.stringify(annotations));
    assert.match(describeError(errors[0] as AnnotationError), expected);
  }
});

test("a Deployment name that cannot be a Service name asks for serin.dev/service", () => {
  const [error] = errorsOf({}, "web.v2");
  assert.match(
    describeError(error as AnnotationError),
    /^serin\.dev\/service="\(not set; defaults to "web\.v2"\)" is not a valid Service name/,
  );
});

test("all bad annotations are reported at once", () => {
  const errors = errorsOf({
    "serin.dev/steps": "5,1",
    "serin.dev/action": "go",
    "serin.dev/failure-limit": "x",
  });
  assert.deepEqual(
    errors.map((error) => error.key),
    ["serin.dev/steps", "serin.dev/failure-limit", "serin.dev/action"],
  );
});

test("the controller's allowlist replaces the cluster-local rule for test gates", () => {
  const policy = allowlistPolicy(["*.ci.example", "gate.example"]);
  assert.ok(
    parseCanarySpec({ "serin.dev/tests": "https://a.ci.example/run,http://gate.example" }, "web", {
      testUrlPolicy: policy,
    }).ok,
  );
  assert.equal(
    parseCanarySpec({ "serin.dev/tests": "http://other.example" }, "web", { testUrlPolicy: policy }).ok,
    false,
  );
});

test("arbitrary annotation values never throw and every error names its key", () => {
  const keys = [
    "steps",
    "step-interval",
    "analysis",
    "analysis-interval",
    "failure-limit",
    "tests",
    "progress-deadline",
    "action",
    "service",
  ];
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom(...keys.map((key) => `serin.dev/${key}`)), fc.string()),
      (annotations) => {
        const result = parseCanarySpec(annotations, "web");
        if (!result.ok) {
          for (const error of result.errors) {
            assert.ok(error.key in annotations);
            assert.equal(error.value, annotations[error.key]);
            assert.ok(describeError(error).startsWith(`${error.key}="`));
          }
        }
      },
    ),
  );
});

test("with templates configured, an analysis name that is neither built in nor configured is refused", () => {
  const options = { metricTemplates: ["error-budget"] };
  assert.ok(parseCanarySpec({ "serin.dev/analysis": "error-budget<=1,success-rate>=99" }, "web", options).ok);
  const result = parseCanarySpec({ "serin.dev/analysis": "errors<=1" }, "web", options);
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.match(
      describeError(result.errors[0] as AnnotationError),
      /errors is not a configured metric template \(error-budget\)/,
    );
  }
});
