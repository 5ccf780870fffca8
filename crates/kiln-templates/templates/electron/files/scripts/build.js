// Builds the web version of the app into dist/: the renderer's files, with index.html
// prerendered from kiln.json so the page shows the brief without JavaScript, plus the build
// stamp at dist/__kiln/version. No Electron binary is needed.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadKiln } from '../src/main/kiln.js';
import { injectPage } from '../renderer/render.js';

/** Writes the site for the app in `root` to `outDir` and returns the version it stamped. */
export function buildSite({ root, outDir, version }) {
  rmSync(outDir, { recursive: true, force: true });
  cpSync(join(root, 'renderer'), outDir, { recursive: true });
  const kiln = loadKiln(join(root, 'kiln.json'));
  const page = join(outDir, 'index.html');
  writeFileSync(page, injectPage(readFileSync(page, 'utf8'), kiln));
  // Deploy checks compare this with the commit they deployed: exactly the sha, no newline.
  mkdirSync(join(outDir, '__kiln'), { recursive: true });
  writeFileSync(join(outDir, '__kiln', 'version'), version);
  return version;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const outDir = join(root, 'dist');
  const version = buildSite({ root, outDir, version: process.env.KILN_BUILD_SHA || 'dev' });
  console.log(`build: wrote ${outDir} (version ${version})`);
}
