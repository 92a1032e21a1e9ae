// Bundle the viewer into one ESM file + one CSS file inside the Python package.
// Everything (niivue, its shaders, fonts and matcaps) is inlined: the widget must
// work on hospital networks without any CDN or runtime download.
import { readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, "..", "static");
const dev = process.argv.includes("--dev");

// niivue recomputes a 3-D gradient texture (for volume-rendering lighting) on every
// layer refresh, i.e. on every window/level change. On software WebGL (SwiftShader,
// VMs without GPU) that pass dominates: seconds for a 512x512x300 CT. We make it
// skippable while no 3-D tile is shown (the viewer computes it when one appears).
const PATCHES = [
  {
    file: /@niivue[\\/]niivue[\\/]build[\\/]niivue[\\/]index\.js$/,
    find: "      this.gradientTexture = gradientGL({",
    replace: "      this.gradientTexture = this.chrisSkipGradient ? this.gradientTexture : gradientGL({",
  },
];

const patchPlugin = {
  name: "patch-niivue",
  setup(b) {
    for (const p of PATCHES) {
      b.onLoad({ filter: p.file }, async (args) => {
        const src = await readFile(args.path, "utf8");
        const n = src.split(p.find).length - 1;
        if (n !== 1) throw new Error(`patch for ${args.path}: expected 1 match, found ${n}`);
        return { contents: src.replace(p.find, p.replace), loader: "js" };
      });
    }
  },
};

const result = await build({
  entryPoints: { viewer: path.join(here, "src", "index.js") },
  outdir,
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: !dev,
  sourcemap: false,
  legalComments: "none",
  loader: { ".png": "dataurl", ".jpg": "dataurl", ".woff2": "dataurl", ".svg": "dataurl" },
  plugins: [patchPlugin],
  metafile: true,
  logLevel: "info",
});

// The bundle redistributes these packages: ship their licence texts beside it.
const pkgDirs = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//);
  if (m) pkgDirs.add(m[1]);
}
const parts = [];
for (const dir of [...pkgDirs].sort()) {
  const pkg = JSON.parse(await readFile(path.join(here, dir, "package.json"), "utf8"));
  const files = (await readdir(path.join(here, dir))).filter((f) => /^(licen[cs]e|copying)/i.test(f));
  const text = files.length
    ? await readFile(path.join(here, dir, files[0]), "utf8")
    : `No licence file in the npm package; its licence is ${pkg.license}, full text in ` +
      `the project repository: ${(pkg.repository && (pkg.repository.url || pkg.repository)) || pkg.homepage}`;
  parts.push(`${pkg.name} ${pkg.version} (${pkg.license})\n${"-".repeat(60)}\n${text.trim()}\n`);
}
await writeFile(path.join(outdir, "THIRD_PARTY_LICENSES.txt"), parts.join("\n\n"));
