// Bundles the pages' third-party libraries (pinned in package.json and package-lock.json) into
// api/static/vendor/, with LICENSES.txt naming every package that went into a bundle and its licence text.
// Run by `./dev` whenever the lock file changes or the bundles are missing.
import { build } from "esbuild";
import { readFileSync, writeFileSync, mkdirSync, existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "api", "static", "vendor");
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: {
    editor: join(here, "src", "editor.js"),
    graph: join(here, "src", "graph.js"),
    diff: join(here, "src", "diff.js"),
  },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  outdir: out,
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});

// Every package a bundle took a file from, found from the inputs' paths under node_modules.
const packages = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.add(match[1]);
}

const sections = [...packages].sort().map((name) => {
  const root = join(here, "node_modules", name);
  const meta = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const file = readdirSync(root).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  const text = file ? readFileSync(join(root, file), "utf8").trim() : `${meta.license} (no licence file shipped)`;
  return `${name} ${meta.version} — ${meta.license}\n${"-".repeat(72)}\n${text}\n`;
});
writeFileSync(
  join(out, "LICENSES.txt"),
  "Third-party code bundled into editor.js, graph.js and diff.js (built by ui/build.mjs from ui/package-lock.json).\n\n" +
    sections.join("\n"),
);
writeFileSync(join(out, "packages.json"), JSON.stringify([...packages].sort(), null, 2) + "\n");
if (!existsSync(join(out, "editor.js")) || !existsSync(join(out, "graph.js"))) process.exit(1);
console.log(`ui vendor: ${packages.size} packages bundled into ${out}`);
