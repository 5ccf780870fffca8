// Last build step: renders the app to HTML inside dist/index.html and writes the build stamp.
// Runs after `vite build` (client) and `vite build --ssr` (server entry into build/ssr).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { injectPrerender } from './html.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const page = join(dist, 'index.html');

const { render } = await import(pathToFileURL(join(root, 'build', 'ssr', 'entry-server.js')).href);
const { html, title, project } = render();
writeFileSync(page, injectPrerender(readFileSync(page, 'utf8'), { appHtml: html, title, project }));

// Deploy checks compare this file with the commit they deployed: exactly the sha, no newline.
const version = process.env.KILN_BUILD_SHA || 'dev';
mkdirSync(join(dist, '__kiln'), { recursive: true });
writeFileSync(join(dist, '__kiln', 'version'), version);

console.log(`prerender: wrote ${page} (version ${version})`);
