'use strict';
// Exercises the real app over HTTP on a random port and checks the page against kiln.json,
// so the tests follow the brief instead of hard-coding it.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { once } = require('node:events');
const ejs = require('ejs');
const { createApp } = require('../app');

const kiln = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'kiln.json'), 'utf8'));
// Kiln's tester may set a real stamp; otherwise use a recognisable one.
process.env.KILN_BUILD_SHA = process.env.KILN_BUILD_SHA || 'test-build-sha';
const stamp = process.env.KILN_BUILD_SHA;

/** Starts `app` on a random loopback port; returns its base URL and server. */
async function start(app) {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

function stop(server) {
  // fetch keeps connections alive; without this close() would wait for them.
  server.closeAllConnections();
  server.close();
}

/** Text as the view prints it: `<%= %>` escapes with ejs.escapeXML. */
const shown = (text) => ejs.escapeXML(text);

let app;

before(async () => {
  app = await start(createApp());
});

after(() => {
  stop(app.server);
});

test('GET / shows the title, brief and every story with its acceptance criteria', async () => {
  const res = await fetch(`${app.url}/`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  const html = await res.text();

  assert.ok(html.includes(`<title>${shown(kiln.title)}</title>`), `missing <title> ${kiln.title}`);
  assert.ok(html.includes(`<h1>${shown(kiln.title)}</h1>`), `missing heading ${kiln.title}`);
  assert.ok(html.includes(shown(kiln.brief)), 'brief missing from page');
  for (const story of kiln.stories) {
    // Whole element text, so a title that is merely a substring of the brief does not count.
    assert.ok(html.includes(`>${shown(story.title)}<`), `story title missing: ${story.title}`);
    for (const criterion of story.acceptance) {
      assert.ok(html.includes(`>${shown(criterion)}<`), `acceptance criterion missing: ${criterion}`);
    }
  }
});

test('GET / uses relative asset URLs so the app works behind a path prefix', async () => {
  const html = await (await fetch(`${app.url}/`)).text();
  assert.ok(html.includes('href="styles.css"'), 'stylesheet link is not relative');
  assert.doesNotMatch(html, /(href|src)="\/(?!\/)/, 'page contains a root-absolute URL');
});

test('BASE_PATH is used for absolute links', async () => {
  const prefixed = await start(createApp({ basePath: '/apps/demo/' }));
  try {
    const html = await (await fetch(`${prefixed.url}/`)).text();
    assert.ok(html.includes('href="/apps/demo/"'), 'home link does not use BASE_PATH');
    assert.ok(html.includes('href="styles.css"'), 'assets must stay relative');
  } finally {
    stop(prefixed.server);
  }
});

test('GET /styles.css serves the stylesheet', async () => {
  const res = await fetch(`${app.url}/styles.css`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/css/);
});

test('GET /healthz reports ok', async () => {
  const res = await fetch(`${app.url}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
});

test('GET /__kiln/version returns the build stamp, or dev without one', async () => {
  let res = await fetch(`${app.url}/__kiln/version`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain/);
  assert.equal(await res.text(), stamp);

  delete process.env.KILN_BUILD_SHA;
  try {
    res = await fetch(`${app.url}/__kiln/version`);
    assert.equal(await res.text(), 'dev');
  } finally {
    process.env.KILN_BUILD_SHA = stamp;
  }
});

test('unknown paths are 404', async () => {
  const res = await fetch(`${app.url}/no-such-page`);
  assert.equal(res.status, 404);
  await res.text();
});
