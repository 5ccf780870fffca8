// Starts the built app with `next start` on a free port and checks it over HTTP against
// kiln.json, so the tests follow the brief instead of hard-coding it. Needs `npm run build`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normaliseBasePath } from '../lib/base-path.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');
const kiln = JSON.parse(readFileSync(join(root, 'kiln.json'), 'utf8'));
// The build baked this prefix into asset URLs; Kiln runs build and test with the same one.
const basePath = normaliseBasePath(process.env.BASE_PATH);
const stamp = process.env.KILN_BUILD_SHA || 'test-build-sha';

/** A port that was free a moment ago (next start cannot listen on port 0 and report it). */
async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** Runs `next start` with `env` and resolves once /healthz answers. */
async function startApp(env) {
  const port = await freePort();
  const child = spawn(process.execPath, [nextBin, 'start', '-H', '127.0.0.1', '-p', String(port)], {
    cwd: root,
    env: { ...env, NEXT_TELEMETRY_DISABLED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`next start exited with ${child.exitCode}:\n${output}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      await res.arrayBuffer();
      if (res.ok) return { child, url };
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`next start did not answer /healthz within 60s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function stopApp(app) {
  if (!app || app.child.exitCode !== null) return;
  app.child.kill('SIGTERM');
  await once(app.child, 'exit');
}

/** Text as React prints it into HTML. */
const shown = (text) =>
  text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#x27;');

let app;

before(async () => {
  if (!existsSync(join(root, '.next', 'BUILD_ID'))) {
    throw new Error('no production build in .next/; run "npm run build" before "npm test"');
  }
  app = await startApp({ ...process.env, KILN_BUILD_SHA: stamp });
});

after(() => stopApp(app));

test('GET / server-renders the title, brief and every story with its criteria', async () => {
  const res = await fetch(`${app.url}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  const html = await res.text();

  assert.ok(html.includes(`<title>${shown(kiln.title)}</title>`), `missing <title> ${kiln.title}`);
  assert.ok(html.includes(`<h1>${shown(kiln.title)}</h1>`), `missing heading ${kiln.title}`);
  assert.ok(html.includes(`<meta name="kiln-project" content="${kiln.project}"/>`), 'project meta missing');
  assert.ok(html.includes(shown(kiln.brief)), 'brief missing');
  for (const story of kiln.stories) {
    assert.ok(html.includes(`<h3>${shown(story.title)}</h3>`), `story title missing: ${story.title}`);
    for (const criterion of story.acceptance) {
      assert.ok(html.includes(`<li>${shown(criterion)}</li>`), `criterion missing: ${criterion}`);
    }
  }
});

test('assets load through BASE_PATH, as the proxy strips it again', async () => {
  const html = await (await fetch(`${app.url}/`)).text();
  const assets = [...html.matchAll(/(?:src|href)="([^"]*\/_next\/[^"]+)"/g)].map((m) => m[1]);
  assert.ok(assets.length > 0, 'page references no /_next assets');
  for (const asset of assets) {
    assert.ok(asset.startsWith(`${basePath}/_next/`), `${asset} does not start with ${basePath}/_next/`);
    const res = await fetch(`${app.url}${asset.slice(basePath.length)}`);
    await res.arrayBuffer();
    assert.equal(res.status, 200, `${asset} is not served`);
  }
});

test('GET /healthz reports ok', async () => {
  const res = await fetch(`${app.url}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
});

test('GET /__kiln/version returns exactly the build stamp as plain text', async () => {
  const res = await fetch(`${app.url}/__kiln/version`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain/);
  assert.equal(await res.text(), stamp);
});

test('GET /__kiln/version says dev when no stamp is set', async () => {
  const env = { ...process.env };
  delete env.KILN_BUILD_SHA;
  const bare = await startApp(env);
  try {
    assert.equal(await (await fetch(`${bare.url}/__kiln/version`)).text(), 'dev');
  } finally {
    await stopApp(bare);
  }
});

test('unknown paths are 404', async () => {
  const res = await fetch(`${app.url}/no-such-page`);
  await res.arrayBuffer();
  assert.equal(res.status, 404);
});
