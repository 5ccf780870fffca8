import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadKiln, normaliseKiln } from '../src/main/kiln.js';
import { APP_MARKER, HEAD_MARKER, escapeHtml, injectPage, renderApp } from '../renderer/render.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kiln = loadKiln(join(root, 'kiln.json'));

test('renderApp shows the title, brief, project and every story with its criteria', () => {
  const html = renderApp(kiln);
  assert.ok(html.includes(`<h1>${escapeHtml(kiln.title)}</h1>`));
  assert.ok(html.includes(`<p class="brief">${escapeHtml(kiln.brief)}</p>`));
  assert.ok(html.includes(`<span class="project">${kiln.project}</span>`));
  assert.equal(html.split('<section class="story"').length - 1, kiln.stories.length);
  for (const story of kiln.stories) {
    assert.ok(html.includes(`<h3>${escapeHtml(story.title)}</h3>`), `missing ${story.title}`);
    for (const criterion of story.acceptance) {
      assert.ok(html.includes(`<li>${escapeHtml(criterion)}</li>`), `missing ${criterion}`);
    }
  }
});

test('renderApp never turns user text into markup', () => {
  const hostile = '<img src=x onerror="alert(1)">';
  const html = renderApp(
    normaliseKiln({ project: 'demo', title: hostile, brief: hostile, stories: [{ title: hostile, acceptance: [hostile] }] }),
  );
  assert.ok(!html.includes('<img'), html);
  assert.ok(html.includes('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'));
});

test('renderApp says when there are no stories', () => {
  assert.ok(renderApp(normaliseKiln({ project: 'demo' })).includes('No stories yet.'));
});

test('injectPage fills both markers and refuses a page without them', () => {
  const page = injectPage(`<head>${HEAD_MARKER}</head><div id="app">${APP_MARKER}</div>`, normaliseKiln({ project: 'demo', title: "$& <A>" }));
  assert.ok(page.includes('<title>$&amp; &lt;A&gt;</title>'));
  assert.ok(page.includes('<meta name="kiln-project" content="demo">'));
  assert.ok(!page.includes(APP_MARKER) && !page.includes(HEAD_MARKER));
  assert.throws(() => injectPage('<div id="app"></div>', kiln), /kiln-head/);
});
