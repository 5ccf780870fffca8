// Runs after `expo export --platform web`: puts the brief's summary into dist/index.html so the
// page shows it before JavaScript runs, and writes the build stamp.
const fs = require('node:fs');
const path = require('node:path');
const { injectSummary } = require('./page');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
const page = path.join(dist, 'index.html');

// Same normalisation as the app, without importing app code (it is ESM/JSX for Metro).
const raw = JSON.parse(fs.readFileSync(path.join(root, 'kiln.json'), 'utf8'));
const text = (value) => (typeof value === 'string' ? value : '');
const kiln = {
  project: text(raw.project),
  title: text(raw.title) || text(raw.project) || 'Untitled',
  brief: text(raw.brief),
  epic: text(raw.epic),
  stories: (Array.isArray(raw.stories) ? raw.stories : []).map((story) => ({ title: text(story && story.title) })),
};

fs.writeFileSync(page, injectSummary(fs.readFileSync(page, 'utf8'), kiln));

// Deploy checks compare this with the commit they deployed: exactly the sha, no newline.
const version = process.env.KILN_BUILD_SHA || 'dev';
fs.mkdirSync(path.join(dist, '__kiln'), { recursive: true });
fs.writeFileSync(path.join(dist, '__kiln', 'version'), version);
console.log(`postexport: wrote ${page} (version ${version})`);
