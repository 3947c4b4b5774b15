import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type AnnotationError, describeError, parseCanarySpec } from "./spec.js";
import { STEPS_ALLOWED } from "./steps.js";
import { allowlistPolicy } from "./test-urls.js";

function errorsOf(annotations: Record<string, string>, name = "web"): AnnotationError[] {
  const result = parseCanarySpec(annotations, name);
  assert.equal(result.ok, false, JSON.stringify(annotations));
  return result.ok ? [] : result.errors;
}

// DESIGN.md's defaults, but for the analysis interval and failure limit: 10s and 1 were chosen by the
// detection benchmark (BENCHMARKS.md, "Detection time and blast radius") over DESIGN.md's 15s and 2.
test("no annotations at all give the documented defaults", () => {
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
    analysisIntervalMs: 10_000,
    failureLimit: 1,
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
    [{ "serin.dev/steps": "soon" }, /^serin\.dev\/steps="soon" is neither a number nor "pause"; allowed/],
    [
      { "serin.dev/step-interval": "10" },
      /^serin\.dev\/step-interval="10" is not a duration; allowed: a Go duration from 1s to 24h/,
    ],
    [{ "serin.dev/step-interval": "500ms" }, /^serin\.dev\/step-interval="500ms" is shorter than 1s/],
    [{ "serin.dev/analysis-interval": "0" }, /^serin\.dev\/analysis-interval="0" is shorter than 1s/],
    [
      { "serin.dev/progress-deadline": "ten minutes" },
      /^serin\.dev\/progress-deadline="ten minutes" is not a duration/,
    ],
    [
      { "serin.dev/failure-limit": "-1" },
      /^serin\.dev\/failure-limit="-1" is not a whole number; allowed: a whole number from 0 to 100/,
    ],
    [
      { "serin.dev/action": "rollback" },
      /^serin\.dev\/action="rollback" is not a known action; allowed: one of promote, abort, pause, resume, retry$/,
    ],
    [
      { "serin.dev/analysis": "success-rate>99" },
      /="success-rate>99" is not NAME>=VALUE or NAME<=VALUE; allowed: comma-separated checks/,
    ],
    [{ "serin.dev/analysis": "success-rate<=99" }, /success-rate takes >=/],
    [{ "serin.dev/analysis": "success-rate>=101" }, /success-rate needs a percentage from 0 to 100/],
    [{ "serin.dev/analysis": "latency-p99<=500" }, /latency-p99 needs a duration such as 500ms/],
    [{ "serin.dev/analysis": "latency-p99>=5ms" }, /latency-p99 takes <=/],
    [{ "serin.dev/analysis": "errors<=few" }, /errors needs a number/],
    [{ "serin.dev/analysis": "sum(rate(x[1m]))<=1" }, /not NAME>=VALUE/],
    [
      { "serin.dev/analysis": "success-rate>=99,latency-p99<=5" },
      /="success-rate>=99,latency-p99<=5" has "latency-p99<=5": latency-p99 needs a duration/,
    ],
    [{ "serin.dev/analysis": "errors<=1,errors<=2" }, /checks errors<= twice/],
    [{ "serin.dev/tests": "ftp://smoke/run" }, /^serin\.dev\/tests="ftp:\/\/smoke\/run" is not http\(s\)/],
    [{ "serin.dev/tests": "not a url" }, /="not a url" is not a URL/],
    [
      { "serin.dev/tests": "http://smoke/run,https://evil.example.com/x" },
      /has "https:\/\/evil\.example\.com\/x", which has a host that is not a Service of the Deployment's own namespace/,
    ],
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

test("the controller's allowlist widens the cluster-local rule for test gates", () => {
  const policy = allowlistPolicy(["*.ci.example", "gate.example"]);
  const options = { testUrlPolicy: policy, namespace: "shop" };
  const tests = "https://a.ci.example/run,http://gate.example,http://smoke/run";
  const result = parseCanarySpec({ "serin.dev/tests": tests }, "web", options);
  assert.ok(result.ok);
  assert.deepEqual(result.spec.tests, [
    "https://a.ci.example/run",
    "http://gate.example",
    "http://smoke.shop.svc/run",
  ]);
  assert.equal(parseCanarySpec({ "serin.dev/tests": "http://other.example" }, "web", options).ok, false);
});

test("every duration is held between 1s and 24h: Node would fire a longer timer at once", () => {
  for (const key of ["step-interval", "analysis-interval", "progress-deadline"]) {
    assert.ok(parseCanarySpec({ [`serin.dev/${key}`]: "24h" }, "web").ok, key);
    for (const value of ["24h0m1s", "600h", "25h", `${"9".repeat(400)}s`]) {
      const [error] = errorsOf({ [`serin.dev/${key}`]: value });
      assert.match(describeError(error as AnnotationError), /is (longer than 24h|not a duration)/, value);
    }
  }
  const [infinite] = errorsOf({ "serin.dev/step-interval": `${"9".repeat(400)}s` });
  assert.doesNotMatch(describeError(infinite as AnnotationError), /Infinity/);
});

test("thresholds are finite and in range: 400 nines are not Infinity, a check that always passes", () => {
  const nines = "9".repeat(400);
  const cases: [string, RegExp][] = [
    [`latency-p99<=${nines}ms`, /latency-p99 needs a duration/],
    ["latency-p99<=25h", /latency-p99 is longer than 24h/],
    [`error-rate<=${nines}`, /error-rate needs a number of at most 1e15 in magnitude/],
    [`error-rate>=-${nines}`, /error-rate needs a number of at most 1e15/],
    [`success-rate>=${nines}`, /success-rate needs a percentage from 0 to 100/],
  ];
  for (const [analysis, expected] of cases) {
    const [error] = errorsOf({ "serin.dev/analysis": analysis });
    assert.match(describeError(error as AnnotationError), expected, analysis);
  }
  const ok = parseCanarySpec(
    { "serin.dev/analysis": "latency-p99<=24h,error-rate<=1000000000000000" },
    "web",
  );
  assert.ok(ok.ok);
  assert.deepEqual(
    ok.spec.analysis.map((check) => check.threshold),
    [86_400_000, 1e15],
  );
});

test("failure-limit is a whole number from 0 to 100", () => {
  assert.ok(parseCanarySpec({ "serin.dev/failure-limit": "100" }, "web").ok);
  const [error] = errorsOf({ "serin.dev/failure-limit": "101" });
  assert.match(describeError(error as AnnotationError), /="101" is more than 100/);
  assert.match(
    describeError(errorsOf({ "serin.dev/failure-limit": "9".repeat(400) })[0] as AnnotationError),
    /more than 100/,
  );
});

test("a value that is not a string is refused with its key, not an internal error", () => {
  const annotations = {
    "serin.dev/steps": 10,
    "serin.dev/tests": { url: "http://smoke" },
    "serin.dev/action": null,
    "serin.dev/phase": ["Pending"],
  } as unknown as Record<string, string>;
  const messages = errorsOf(annotations).map(describeError);
  assert.deepEqual(messages.sort(), [
    'serin.dev/action="null" is null, not a string; allowed: one of promote, abort, pause, resume, retry',
    'serin.dev/phase="["Pending"]" is an array, not a string; allowed: a string',
    `serin.dev/steps="10" is a number, not a string; allowed: ${STEPS_ALLOWED}`,
    'serin.dev/tests="{"url":"http://smoke"}" is an object, not a string; allowed: comma-separated http(s) URLs, each on a Service of the Deployment\'s own namespace (NAME or NAME.NAMESPACE.svc[.cluster.local])',
  ]);
});

test("a value over 4 KiB is refused before it is parsed, and quoted once, cut short", () => {
  const huge = "1".repeat(200_000);
  const [error] = errorsOf({ "serin.dev/steps": huge });
  const message = describeError(error as AnnotationError);
  assert.match(
    message,
    /^serin\.dev\/steps="1{200}… \(200000 characters\)" is 200000 bytes long, more than 4096;/,
  );
  assert.ok(message.length < 600, `${message.length} characters`);
  assert.ok(parseCanarySpec({ "serin.dev/tests": `http://smoke/${"a".repeat(4_000)}` }, "web").ok);
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
