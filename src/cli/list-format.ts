// `serin list` as a table, or as JSON and YAML in a shape of its own (documented in the README), never
// the raw objects: scripts should not depend on where serin happens to keep a field.
import { stringify } from "yaml";
import { age, type CanaryView, describeSplit, isLive, phaseSince, stepOf } from "./canary-view.js";

const OUTPUT_FORMATS = ["wide", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Live canaries first (Pending, Progressing, Paused, Promoting), then the rest; by namespace and name. */
export function sortCanaries(views: readonly CanaryView[]): CanaryView[] {
  return [...views].sort(
    (a, b) =>
      Number(isLive(b)) - Number(isLive(a)) ||
      a.namespace.localeCompare(b.namespace) ||
      a.name.localeCompare(b.name),
  );
}

/** One canary in `-o json|yaml`. */
export interface CanaryItem {
  namespace: string;
  name: string;
  /** null until the watcher has reconciled the Deployment. */
  phase: string | null;
  /** Percent as written in the steps ("0.1"). */
  weight: string | null;
  /** The step in force, from 1, while a canary is in flight. */
  step: { number: number; of: number } | null;
  /** The revision in flight, or the one just aborted. */
  revision: string | null;
  /** When the current phase (or step) began, ISO 8601. */
  since: string | null;
  message: string | null;
  service: string;
  /** The traffic split's weights, out of 10000. */
  split: { kind: string; name: string; stable: number; canary: number } | null;
  /** The latest metric check of the canary in flight. */
  lastCheck: { result: string; at: string } | null;
  /** An action set and not yet acted on. */
  action: string | null;
}

export function canaryItem(view: CanaryView): CanaryItem {
  const state = view.state && view.state.revision === view.revision ? view.state : undefined;
  return {
    namespace: view.namespace,
    name: view.name,
    phase: view.phase ?? null,
    weight: view.weight ?? null,
    step: stepOf(view) ?? null,
    revision: view.revision ?? null,
    since: phaseSince(view) ?? null,
    message: view.message ?? null,
    service: view.service,
    split: view.split
      ? { kind: view.split.kind, name: view.split.name, stable: view.split.stable, canary: view.split.canary }
      : null,
    lastCheck:
      state?.lastAnalysis && state.lastAnalysisAt
        ? { result: state.lastAnalysis, at: state.lastAnalysisAt }
        : null,
    action: view.action ?? null,
  };
}

/** `-o json`: `{"canaries": [...]}`, sorted as the table is. */
export function listJson(views: readonly CanaryView[]): string {
  return `${JSON.stringify({ canaries: sortCanaries(views).map(canaryItem) }, null, 2)}\n`;
}

export function listYaml(views: readonly CanaryView[]): string {
  return stringify({ canaries: sortCanaries(views).map(canaryItem) });
}

const MESSAGE_WIDTH = 80;

/** The cells of one table row (without NAMESPACE, which the caller adds for -A). */
function cells(view: CanaryView, now: Date, wide: boolean): string[] {
  const at = stepOf(view);
  const message = view.message ?? "";
  const row = [
    view.name,
    view.phase ?? "-",
    view.weight !== undefined ? `${view.weight}%` : "-",
    at ? `${at.number}/${at.of}` : "-",
    view.revision ?? "-",
    age(phaseSince(view), now),
  ];
  if (wide) {
    const state = view.state && view.state.revision === view.revision ? view.state : undefined;
    row.push(
      view.service,
      view.split ? describeSplit(view.split).replace(/ · /, ", ") : "-",
      state?.lastAnalysis ? `${state.lastAnalysis} ${age(state.lastAnalysisAt, now)} ago` : "-",
      view.action ?? "-",
      message || "-",
    );
  } else {
    row.push(message.length > MESSAGE_WIDTH ? `${message.slice(0, MESSAGE_WIDTH - 1)}…` : message || "-");
  }
  return row;
}

function tableHeader(wide: boolean): string[] {
  return [
    "NAME",
    "PHASE",
    "WEIGHT",
    "STEP",
    "REVISION",
    "AGE",
    ...(wide ? ["SERVICE", "SPLIT", "LAST CHECK", "ACTION"] : []),
    "MESSAGE",
  ];
}

/** The rows of the table, NAMESPACE first, header included. */
export function tableRows(views: readonly CanaryView[], now: Date, wide: boolean): string[][] {
  return [
    ["NAMESPACE", ...tableHeader(wide)],
    ...sortCanaries(views).map((view) => [view.namespace, ...cells(view, now, wide)]),
  ];
}

/** Columns padded as kubectl pads them: three spaces between, the last one not padded. */
export function alignColumns(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  return rows
    .map((row) =>
      row
        .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd((widths[index] ?? 0) + 3)))
        .join("")
        .trimEnd(),
    )
    .join("\n")
    .concat("\n");
}

export function listTable(views: readonly CanaryView[], now: Date, wide: boolean): string {
  if (views.length === 0) return "";
  return alignColumns(tableRows(views, now, wide));
}
