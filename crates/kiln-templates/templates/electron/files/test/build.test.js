// The web build: what Kiln deploys and checks. The first test builds into a temporary
// directory; the second checks the dist/ that `npm run build` produced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSite } from '../scripts/build.js';
import { escapeHtml } from '../renderer/render.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kiln = JSON.parse(readFileSync(join(root, 'kiln.json'), 'utf8'));

/** Checks a built site directory against kiln.json and the expected stamp. */
function checkSite(dir, version) {
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  assert.ok(html.includes(kiln.project), 'page does not name the project');
  assert.ok(html.includes(`<meta name="kiln-project" content="${kiln.project}">`));
  assert.ok(html.includes(`<title>${escapeHtml(kiln.title)}</title>`), 'title missing');
  for (const story of kiln.stories) {
    assert.ok(html.includes(`<h3>${escapeHtml(story.title)}</h3>`), `story missing: ${story.title}`);
  }
  assert.doesNotMatch(html, /(src|href)="\/(?!\/)/, 'page contains a root-absolute URL');
  for (const [, ref] of html.matchAll(/(?:src|href)="\.\/([^"]+)"/g)) {
    assert.ok(existsSync(join(dir, ref)), `${ref} referenced but not built`);
  }
  assert.equal(readFileSync(join(dir, '__kiln', 'version'), 'utf8'), version);
}

test('buildSite writes a prerendered page, its assets and the stamp', () => {
  const out = mkdtempSync(join(tmpdir(), 'kiln-site-'));
  try {
    assert.equal(buildSite({ root, outDir: out, version: 'stamp-123' }), 'stamp-123');
    checkSite(out, 'stamp-123');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('dist/ holds the deployable site stamped with KILN_BUILD_SHA', () => {
  const dist = join(root, 'dist');
  assert.ok(existsSync(join(dist, 'index.html')), 'dist/ is missing; run "npm run build" before "npm test"');
  checkSite(dist, process.env.KILN_BUILD_SHA || 'dev');
});
