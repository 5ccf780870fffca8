/** @jest-environment node */
// Checks the web export in dist/ (run `npm run build` first): what Kiln deploys and verifies.
const fs = require('node:fs');
const path = require('node:path');
const { escapeHtml } = require('../scripts/page');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
const kiln = JSON.parse(fs.readFileSync(path.join(root, 'kiln.json'), 'utf8'));
// The export was built with this prefix; Kiln runs build and test with the same BASE_PATH.
const basePath = String(process.env.BASE_PATH || '').trim().replace(/\/+$/, '');

let html;

beforeAll(() => {
  const page = path.join(dist, 'index.html');
  if (!fs.existsSync(page)) {
    throw new Error(`${page} does not exist; run "npm run build" before "npm test"`);
  }
  html = fs.readFileSync(page, 'utf8');
});

test('the exported page names the project and shows the title and every story title', () => {
  expect(html).toContain(`<meta name="kiln-project" content="${kiln.project}">`);
  expect(html).toContain(`<title>${escapeHtml(kiln.title)}</title>`);
  expect(html).toContain(`<h1>${escapeHtml(kiln.title)}</h1>`);
  for (const story of kiln.stories) {
    expect(html).toContain(`<h3>${escapeHtml(story.title)}</h3>`);
  }
});

test('scripts load from under BASE_PATH and exist in dist/', () => {
  const scripts = [...html.matchAll(/<script[^>]+src="([^"]+)"/g)].map((m) => m[1]);
  expect(scripts.length).toBeGreaterThan(0);
  for (const src of scripts) {
    expect(src.startsWith(`${basePath}/`)).toBe(true);
    const file = path.join(dist, src.slice(basePath.length));
    expect(fs.existsSync(file)).toBe(true);
  }
});

test('dist/__kiln/version holds exactly the build stamp', () => {
  const version = fs.readFileSync(path.join(dist, '__kiln', 'version'), 'utf8');
  expect(version).toBe(process.env.KILN_BUILD_SHA || 'dev');
});
