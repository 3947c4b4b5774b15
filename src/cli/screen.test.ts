import assert from "node:assert/strict";
import { test } from "node:test";
import { InPlace } from "./screen.js";

test("a frame is redrawn over the last one, lines cut to the terminal's width, an unchanged frame not at all", () => {
  const written: string[] = [];
  const view = new InPlace({ write: (text) => written.push(text), isTTY: true, columns: 24, indent: "  " });
  view.draw("phase: Progressing\nmessage: a message longer than the terminal\n");
  view.draw("phase: Progressing\nmessage: a message longer than the terminal\n");
  view.draw("phase: Succeeded\n");
  assert.deepEqual(written, [
    "  phase: Progressing\n  message: a message l…\n",
    "\u001b[2F\u001b[J  phase: Succeeded\n",
  ]);
});
