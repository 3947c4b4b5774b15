import assert from "node:assert/strict";
import { test } from "node:test";
import type { CoreV1Event } from "@kubernetes/client-node";
import pino from "pino";
import { EventRecorder } from "./events.js";
import type { Kube } from "./kube.js";

/** An apiserver that answers each event create when the test says so. */
function slowApiserver() {
  const sent: CoreV1Event[] = [];
  const answers: (() => void)[] = [];
  const kube = {
    core: {
      createNamespacedEvent: ({ body }: { body: CoreV1Event }) =>
        new Promise((resolve) => {
          sent.push(body);
          answers.push(() => resolve(body));
        }),
    },
  } as unknown as Kube;
  const answerAll = async () => {
    while (answers.length > 0) {
      for (const answer of answers.splice(0)) answer();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { kube, sent, answerAll };
}

const web = { metadata: { name: "web", namespace: "shop", uid: "u1", resourceVersion: "7" } };
const quiet = pino({ level: "silent" });

test("record hands the event over and returns before the apiserver answers; flush waits for it", async () => {
  const api = slowApiserver();
  const recorder = new EventRecorder(api.kube, quiet);
  recorder.record(web, "WeightShifted", "step 1 of 3: canary at 10%");
  assert.equal(api.sent.length, 1, "sent at once");
  assert.equal(recorder.backlog, 1, "not yet answered");
  const flushed = recorder.flush(5_000);
  await api.answerAll();
  await flushed;
  assert.equal(recorder.backlog, 0);
  const [event] = api.sent;
  assert.equal(event?.reason, "WeightShifted");
  assert.equal(event?.involvedObject.uid, "u1");
  assert.match(event?.metadata.name ?? "", /^web\.[0-9a-f]+$/);
});

test("at most `concurrency` events in flight; the rest wait in order and are named in the order recorded", async () => {
  const api = slowApiserver();
  const recorder = new EventRecorder(api.kube, quiet, { concurrency: 2 });
  for (let i = 0; i < 5; i++) recorder.record(web, "Step", `step ${i}`);
  assert.equal(api.sent.length, 2);
  await api.answerAll();
  assert.deepEqual(
    api.sent.map((event) => event.message),
    ["step 0", "step 1", "step 2", "step 3", "step 4"],
  );
  const names = api.sent.map((event) => event.metadata.name ?? "");
  assert.deepEqual([...names].sort(), names, "names sort as recorded");
});

test("a full queue drops new events instead of growing", async () => {
  const api = slowApiserver();
  const recorder = new EventRecorder(api.kube, quiet, { concurrency: 1, maxPending: 3 });
  for (let i = 0; i < 10; i++) recorder.record(web, "Step", `step ${i}`);
  assert.equal(recorder.backlog, 4, "one in flight and three waiting");
  await api.answerAll();
  assert.deepEqual(
    api.sent.map((event) => event.message),
    ["step 0", "step 1", "step 2", "step 3"],
  );
});

test("nothing is sent once this replica may no longer be the only writer", async () => {
  const api = slowApiserver();
  let leading = true;
  const recorder = new EventRecorder(api.kube, quiet, { concurrency: 1, mayWrite: () => leading });
  recorder.record(web, "Step", "sent");
  recorder.record(web, "Step", "held back");
  leading = false;
  await api.answerAll();
  await recorder.flush(1_000);
  assert.deepEqual(
    api.sent.map((event) => event.message),
    ["sent"],
  );
});
