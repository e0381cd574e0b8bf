// Vendors the front end's npm dependencies into dashboard_api/static/vendor (nothing is fetched by
// the browser from outside). Run by `make web` after `npm ci`; the output is not committed.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "dashboard_api", "static", "vendor");
const mod = (...p) => join(here, "node_modules", ...p);

// [package, file inside it, name in vendor/]
const FILES = [
  ["preact", "dist/preact.mjs", "preact.mjs"],
  ["preact", "hooks/dist/hooks.mjs", "preact-hooks.mjs"],
  ["htm", "dist/htm.mjs", "htm.mjs"],
  ["echarts", "dist/echarts.min.js", "echarts.min.js"],
];
const LICENSES = { preact: "LICENSE", htm: "LICENSE", echarts: "LICENSE" };

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const versions = {};
for (const [pkg, file, name] of FILES) {
  copyFileSync(mod(pkg, file), join(out, name));
  versions[pkg] = JSON.parse(readFileSync(mod(pkg, "package.json"), "utf8")).version;
}
for (const [pkg, file] of Object.entries(LICENSES)) copyFileSync(mod(pkg, file), join(out, `${pkg}.LICENSE.txt`));
writeFileSync(join(out, "versions.json"), JSON.stringify(versions, null, 1) + "\n");
writeFileSync(join(out, ".built"), new Date().toISOString() + "\n");
console.log(`vendored into ${out}: ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(", ")}`);
