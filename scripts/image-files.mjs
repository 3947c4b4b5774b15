#!/usr/bin/env node
// The file set of serin's image (/app of the final stage): what `serin run` needs and nothing else.
// The Dockerfile runs this script to lay out that stage, and the tests run it to check the set and to
// run it, so the image and what is tested cannot drift apart.
//
//   node scripts/image-files.mjs --list        the files, one path a line, relative to /app
//   node scripts/image-files.mjs --out DIR     lays them out under DIR (hard links where possible)
//
// Run after `tsc` (dist/ is read) in a tree whose node_modules holds at least the production packages.
//   - dist/src: the modules reachable by import from the entry point (dist/src/cli/main.js), with their
//     source maps (the entry point runs with --enable-source-maps). Tests, fixtures, benches and the local
//     control plane are not reachable, so they are not there. `serin demo` is left out on purpose: it runs
//     a whole control plane whose binaries the image does not have, and says so when asked.
//   - node_modules: the packages package-lock.json does not mark as development-only.
//   - package.json (serin --version reads it).
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, posix, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ENTRY_POINT = "dist/src/cli/main.js";
/** Imports not followed, with the reason a user is told (see src/cli/demo.ts). */
export const LEFT_OUT = new Map([["dist/src/cli/demo-story.js", "serin demo needs the local control plane"]]);

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;

/** Relative paths (from `root`) of the compiled modules the entry point reaches, their maps beside them. */
export function reachableModules(root) {
  const seen = new Set();
  const pending = [ENTRY_POINT];
  while (pending.length > 0) {
    const file = pending.pop();
    if (seen.has(file) || LEFT_OUT.has(file)) continue;
    const path = join(root, file);
    if (!existsSync(path)) throw new Error(`${file} is missing: build first (npx tsc -p .)`);
    seen.add(file);
    for (const match of readFileSync(path, "utf8").matchAll(IMPORT)) {
      pending.push(posix.normalize(posix.join(posix.dirname(file), match[1])));
    }
  }
  const files = [];
  for (const file of seen) {
    files.push(file);
    if (existsSync(join(root, `${file}.map`))) files.push(`${file}.map`);
  }
  return files;
}

/** Every file under `dir` (relative to `root`), not descending into `skip` (paths relative to `root`). */
function filesUnder(root, dir, skip) {
  const out = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (skip.has(path)) continue;
    if (entry.isDirectory()) out.push(...filesUnder(root, path, skip));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** The files of the production packages package-lock.json names, nested packages as their own entries. */
export function productionPackageFiles(root) {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
  const packages = Object.entries(lock.packages ?? {}).filter(
    ([path, meta]) => path.startsWith("node_modules/") && !meta.dev && !meta.link,
  );
  const all = new Set(Object.keys(lock.packages ?? {}));
  const files = [];
  for (const [path] of packages) {
    if (!existsSync(join(root, path))) {
      throw new Error(`${path} is not installed: run npm ci first`);
    }
    // Nested packages are entries of their own (dev ones are left out); .bin holds links only.
    const nested = new Set(
      [...all].filter(
        (other) =>
          other.startsWith(`${path}/node_modules/`) &&
          !other.slice(path.length + 14).includes("/node_modules/"),
      ),
    );
    nested.add(`${path}/node_modules/.bin`);
    files.push(...filesUnder(root, path, nested));
  }
  return files;
}

/** The image's files, relative to /app, sorted. */
export function imageFiles(root) {
  return [...new Set(["package.json", ...reachableModules(root), ...productionPackageFiles(root)])].sort();
}

/** Lays the files out under `out`, hard-linked from `root` where the filesystem allows, else copied. */
export function writeImageFiles(root, out) {
  const files = imageFiles(root);
  for (const file of files) {
    const target = join(out, file);
    mkdirSync(dirname(target), { recursive: true });
    try {
      linkSync(join(root, file), target);
    } catch {
      copyFileSync(join(root, file), target);
    }
  }
  return files;
}

function main(argv) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const [flag, value] = argv;
  if (flag === "--list" && value === undefined) {
    process.stdout.write(`${imageFiles(root).join("\n")}\n`);
    return 0;
  }
  if (flag === "--out" && value) {
    if (existsSync(value) && statSync(value).isDirectory() && readdirSync(value).length > 0) {
      process.stderr.write(`image-files: ${value} is not empty\n`);
      return 1;
    }
    const files = writeImageFiles(root, resolve(value));
    process.stderr.write(
      `image-files: ${files.length} files under ${relative(process.cwd(), value) || "."}\n`,
    );
    return 0;
  }
  process.stderr.write("usage: image-files.mjs --list | --out DIR\n");
  return 2;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
