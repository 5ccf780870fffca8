import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadKiln, normaliseKiln, parseKiln } from '../lib/kiln.js';
import { normaliseBasePath } from '../lib/base-path.js';

test('loadKiln reads the project kiln.json with every field present', () => {
  const kiln = loadKiln();
  assert.match(kiln.project, /^[a-z][a-z0-9-]*$/);
  assert.ok(kiln.title.length > 0);
  for (const story of kiln.stories) {
    assert.equal(typeof story.title, 'string');
    assert.ok(Array.isArray(story.acceptance));
  }
});

test('parseKiln fills missing fields and refuses text that is not JSON', () => {
  const text = JSON.stringify({ project: 'demo', stories: [{ title: 'A', acceptance: 'x' }] });
  assert.throws(() => parseKiln('{'), SyntaxError);
  assert.deepEqual(parseKiln(text), {
    project: 'demo',
    title: 'demo',
    brief: '',
    epic: '',
    stories: [{ title: 'A', description: '', acceptance: [] }],
  });
});

test('normaliseKiln tolerates garbage', () => {
  assert.deepEqual(normaliseKiln(null), {
    project: '', title: 'Untitled', brief: '', epic: '', stories: [],
  });
  assert.deepEqual(normaliseKiln({ stories: 'nope', title: 7 }).stories, []);
});

test('normaliseBasePath yields "" or a leading-slash prefix without trailing slash', () => {
  assert.equal(normaliseBasePath(undefined), '');
  assert.equal(normaliseBasePath(''), '');
  assert.equal(normaliseBasePath('/'), '');
  assert.equal(normaliseBasePath('/apps/demo/'), '/apps/demo');
  assert.equal(normaliseBasePath('apps/demo'), '/apps/demo');
});
