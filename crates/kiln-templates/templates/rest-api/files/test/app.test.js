'use strict';
// The home page against kiln.json, health with the database up and down, and the build stamp.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { once } = require('node:events');
const { createApp } = require('../src/app');
const { createPool } = require('../src/db');
const { createRepository } = require('../src/repository');
const { escapeHtml } = require('../src/page');
const { KILN, SECRET, listen, startApp } = require('./helpers');

// Kiln's tester may set a real stamp; otherwise use a recognisable one.
process.env.KILN_BUILD_SHA = process.env.KILN_BUILD_SHA || 'test-build-sha';
const stamp = process.env.KILN_BUILD_SHA;

let api;

before(async () => {
  api = await startApp();
});

after(() => {
  api.stop();
});

test('GET / shows the project, title, brief and every story, escaped', async () => {
  const res = await api.request('GET', '/');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  const html = res.body;

  assert.ok(html.includes(`<title>${escapeHtml(KILN.title)}</title>`), 'missing <title>');
  assert.ok(html.includes(`<h1>${escapeHtml(KILN.title)}</h1>`), 'missing heading');
  assert.ok(html.includes(`>${escapeHtml(KILN.project)}<`), 'missing project name');
  assert.ok(html.includes(escapeHtml(KILN.brief)), 'brief missing from page');
  for (const story of KILN.stories) {
    // Whole element text, so a title that is merely a substring of the brief does not count.
    assert.ok(html.includes(`<h3>${escapeHtml(story.title)}</h3>`), `story missing: ${story.title}`);
    for (const criterion of story.acceptance) {
      assert.ok(html.includes(`<li>${escapeHtml(criterion)}</li>`), `criterion missing: ${criterion}`);
    }
  }
});

test('GET / never prints user text unescaped', async () => {
  const html = (await api.request('GET', '/')).body;
  const userText = [KILN.title, KILN.brief, KILN.epic, ...KILN.stories.flatMap((s) => [s.title, s.description, ...s.acceptance])];
  for (const text of userText.filter((t) => /[<>&"']/.test(t))) {
    assert.ok(!html.includes(text), `raw user text on the page: ${text}`);
  }
  const page = createApp({
    repo: createRepository(api.pool),
    jwtSecret: SECRET,
    kilnFile: require.resolve('./fixtures/hostile-kiln.json'),
  });
  const hostile = await listen(page);
  try {
    const body = await (await fetch(`${hostile.url}/`)).text();
    assert.ok(!body.includes('<script>'), 'script tag injected');
    assert.ok(body.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
    assert.ok(body.includes('<h3>&lt;img src=x onerror=alert(1)&gt;</h3>'));
  } finally {
    hostile.stop();
  }
});

test('GET / documents the API and uses only relative links', async () => {
  const html = (await api.request('GET', '/')).body;
  for (const path of ['/api/auth/register', '/api/auth/login', '/api/items', '/healthz']) {
    assert.ok(html.includes(`<code>${path}</code>`), `API docs miss ${path}`);
  }
  assert.doesNotMatch(html, /(href|src)="\/(?!\/)/, 'page contains a root-absolute URL');
});

test('BASE_PATH prefixes the documented paths', async () => {
  const app = createApp({ repo: createRepository(api.pool), jwtSecret: SECRET, basePath: 'apps/demo/' });
  const running = await listen(app);
  try {
    const html = await (await fetch(`${running.url}/`)).text();
    assert.ok(html.includes('<code>/apps/demo/api/items</code>'));
  } finally {
    running.stop();
  }
});

test('GET /healthz is ok when the database answers', async () => {
  const res = await api.request('GET', '/healthz');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { status: 'ok', database: 'ok' });
});

test('GET /healthz is 503 when the database is unreachable, without leaking details', async () => {
  // A real pg pool pointed at a loopback port nobody listens on: the same driver path as
  // production, failing fast with ECONNREFUSED.
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address();
  probe.close();
  await once(probe, 'close');

  const pool = createPool(`postgres://app:secret-password@127.0.0.1:${port}/app`);
  const logged = [];
  const app = createApp({
    repo: createRepository(pool),
    jwtSecret: SECRET,
    logError: (m) => logged.push(m),
  });
  const running = await listen(app);
  try {
    const res = await fetch(`${running.url}/healthz`);
    assert.equal(res.status, 503);
    const body = await res.text();
    assert.deepEqual(JSON.parse(body), { status: 'unavailable', database: 'unreachable' });
    assert.ok(!body.includes('secret-password'));
    assert.equal(logged.length, 1);
    assert.match(logged[0], /^health check: database unavailable/);
    assert.ok(!logged[0].includes('secret-password'), 'password leaked into the log');
  } finally {
    running.stop();
    await pool.end();
  }
});

test('createPool refuses to start without DATABASE_URL and says what to set', () => {
  assert.throws(() => createPool(undefined), /DATABASE_URL is not set/);
});

test('GET /__kiln/version returns the build stamp, or dev without one', async () => {
  let res = await api.request('GET', '/__kiln/version');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain/);
  assert.equal(res.body, stamp);

  delete process.env.KILN_BUILD_SHA;
  try {
    res = await api.request('GET', '/__kiln/version');
    assert.equal(res.body, 'dev');
  } finally {
    process.env.KILN_BUILD_SHA = stamp;
  }
});

test('unknown paths are a JSON 404', async () => {
  const res = await api.request('GET', '/no-such-page');
  assert.equal(res.status, 404);
  assert.deepEqual(res.body, { error: 'not found' });
});
