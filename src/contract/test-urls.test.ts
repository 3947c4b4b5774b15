import assert from "node:assert/strict";
import { test } from "node:test";
import { allowlistPolicy, checkTestUrl, clusterLocalOnly, parseTestUrls } from "./test-urls.js";

function refusal(url: string, policy = clusterLocalOnly, namespace = "shop"): string {
  const checked = checkTestUrl(url, policy, namespace);
  assert.equal(checked.ok, false, `${url} was accepted`);
  return checked.ok ? "" : checked.problem;
}

test("every host issue 9 found accepted by default is refused, and says why", () => {
  const cases: [string, RegExp][] = [
    ["http://evil.com/x", /has a host that is not a Service of the Deployment's own namespace/],
    ["http://x@evil.com/", /has user info before its host/],
    ["http://x@smoke.shop.svc/", /has user info before its host/],
    ["http://ａｂｃ.com/", /has characters other than ASCII/],
    ["http://smoke.shop.svc/ü", /has characters other than ASCII/],
    ["http://evil\t.com/", /has blanks or control characters/],
    ["http://localhost:4191/", /has localhost for a host/],
    ["http://kubernetes.default/api", /not a Service of the Deployment's own namespace/],
    ["http://prometheus.linkerd-viz:9090/api/v1/admin/tsdb/snapshot", /not a Service of the Deployment's/],
    [
      "http://prometheus.linkerd-viz.svc:9090/api/v1/admin/tsdb/snapshot",
      /not a Service of the Deployment's/,
    ],
    ["http://prometheus.linkerd-viz.svc.cluster.local:9090/", /not a Service of the Deployment's/],
  ];
  for (const [url, expected] of cases) assert.match(refusal(url), expected, url);
});

test("IP addresses in every spelling are refused, whatever URL parsing makes of them", () => {
  for (const url of [
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[fd00:ec2::254]/",
    "http://%31%32%37.0.0.1/",
  ]) {
    assert.match(refusal(url), /IP address|reads as/, url);
  }
});

test("trailing dots, odd schemes and hosts URL parsing rewrites are refused", () => {
  assert.match(refusal("http://smoke.shop.svc./run"), /ends in a dot/);
  assert.match(refusal("http://smoke./run"), /ends in a dot/);
  assert.match(refusal("ftp://smoke/run"), /is not http\(s\)/);
  assert.match(refusal("http:\\\\evil.com/"), /is not a URL of the form/);
  assert.match(refusal("http:evil.com/"), /is not a URL of the form/);
  assert.match(refusal("http://xn--80ak6aa92e.com/"), /not a Service/);
  assert.match(refusal("http://smoke.shop.svc\\@evil.com/"), /user info|reads as/);
  assert.match(refusal("http://kubernetes/api", clusterLocalOnly, "default"), /Kubernetes API server/);
  assert.match(refusal("http://kubernetes.default.svc/api", allowlistPolicy(["*"])), /Kubernetes API server/);
});

test("Services of the Deployment's own namespace are allowed; a bare name is resolved into it", () => {
  const accepted = (url: string) => {
    const checked = checkTestUrl(url, clusterLocalOnly, "shop");
    assert.ok(checked.ok, url);
    return checked.value;
  };
  assert.equal(accepted("http://smoke.shop.svc:8080/run"), "http://smoke.shop.svc:8080/run");
  assert.equal(
    accepted("https://smoke.shop.svc.cluster.local/run"),
    "https://smoke.shop.svc.cluster.local/run",
  );
  assert.equal(accepted("http://Smoke.Shop.svc/run"), "http://Smoke.Shop.svc/run");
  assert.equal(accepted("http://smoke:8080/run?x=1"), "http://smoke.shop.svc:8080/run?x=1");
  // A name that means something elsewhere (GCE's metadata server) means a Service here.
  assert.equal(
    accepted("http://metadata/computeMetadata/v1/"),
    "http://metadata.shop.svc/computeMetadata/v1/",
  );
  assert.match(refusal("http://smoke.other.svc/run"), /not a Service of the Deployment's own namespace/);
});

test("--test-host widens the default: wildcards match names, addresses and localhost only when listed", () => {
  const policy = allowlistPolicy(["*.ci.example", "gate.example", "127.0.0.1", "[::1]"]);
  for (const url of [
    "https://a.ci.example/run",
    "http://gate.example",
    "http://127.0.0.1:9000/gate",
    "http://[::1]:9000/gate",
    "http://smoke.shop.svc/run",
  ]) {
    assert.ok(checkTestUrl(url, policy, "shop").ok, url);
  }
  assert.match(refusal("http://other.example/", policy), /a host the controller allows \(\*\.ci\.example/);
  assert.match(refusal("http://ci.example/", policy), /not a Service/);
  const any = allowlistPolicy(["*"]);
  assert.ok(checkTestUrl("https://anything.example/", any, "shop").ok);
  assert.match(refusal("http://127.0.0.1/", any), /IP address/);
  assert.match(refusal("http://localhost/", any), /localhost/);
  assert.match(refusal("http://u@anything.example/", any), /user info/);
  assert.ok(checkTestUrl("http://localhost:8080/", allowlistPolicy(["localhost"]), "shop").ok);
});

test("a list names the bad URL once, cut short", () => {
  const long = `http://evil.com/${"a".repeat(500)}`;
  const parsed = parseTestUrls(`http://smoke/run,${long}`, clusterLocalOnly, "shop");
  assert.equal(parsed.ok, false);
  if (!parsed.ok) {
    assert.match(parsed.problem, /^has "http:\/\/evil\.com\/a+… \(516 characters\)", which has a host/);
    assert.ok(parsed.problem.length < 300, parsed.problem);
  }
  const single = parseTestUrls("http://evil.com/x", clusterLocalOnly, "shop");
  assert.ok(!single.ok && single.problem.startsWith("has a host that is not"));
});
