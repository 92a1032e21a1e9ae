// Bundle the viewer into one ESM file + one CSS file inside the Python package.
// Everything (niivue, its shaders, fonts and matcaps) is inlined: the widget must
// work on hospital networks without any CDN or runtime download.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.join(here, "..", "static");
const watch = process.argv.includes("--dev");

await build({
  entryPoints: { viewer: path.join(here, "src", "index.js") },
  outdir,
  bundle: true,
  format: "esm",
  target: ["es2020"],
  minify: !watch,
  sourcemap: false,
  legalComments: "none",
  loader: { ".png": "dataurl", ".jpg": "dataurl", ".woff2": "dataurl", ".svg": "dataurl" },
  logLevel: "info",
});
