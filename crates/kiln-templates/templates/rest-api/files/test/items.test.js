'use strict';
// CRUD on /api/items through the real app and repository on pg-mem, including ownership
// and validation.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startApp, signUp } = require('./helpers');

let api;
let token;
let otherToken;

before(async () => {
  api = await startApp();
  token = await signUp(api, 'owner@example.com');
  otherToken = await signUp(api, 'other@example.com');
});

after(() => {
  api.stop();
});

test('create, read, list, update and delete an item', async () => {
  const created = await api.request('POST', '/api/items', {
    token,
    body: { title: '  Buy flour  ', notes: 'tipo 00' },
  });
  assert.equal(created.status, 201);
  const item = created.body;
  assert.equal(item.title, 'Buy flour');
  assert.equal(item.notes, 'tipo 00');
  assert.equal(item.done, false);
  assert.ok(!Number.isNaN(Date.parse(item.created_at)));
  assert.equal(item.owner_id, undefined, 'owner_id stays internal');
  assert.equal(created.headers.get('location'), `items/${item.id}`);

  const read = await api.request('GET', `/api/items/${item.id}`, { token });
  assert.equal(read.status, 200);
  assert.deepEqual(read.body, item);

  const list = await api.request('GET', '/api/items', { token });
  assert.deepEqual(
    list.body.items.map((i) => i.id),
    [item.id],
  );

  const patched = await api.request('PATCH', `/api/items/${item.id}`, {
    token,
    body: { done: true },
  });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.done, true);
  assert.equal(patched.body.title, 'Buy flour', 'absent fields keep their value');
  assert.equal(patched.body.notes, 'tipo 00');

  const renamed = await api.request('PATCH', `/api/items/${item.id}`, {
    token,
    body: { title: 'Buy semolina', notes: '' },
  });
  assert.equal(renamed.body.title, 'Buy semolina');
  assert.equal(renamed.body.notes, '', 'notes can be cleared');
  assert.equal(renamed.body.done, true);

  const deleted = await api.request('DELETE', `/api/items/${item.id}`, { token });
  assert.equal(deleted.status, 204);
  const gone = await api.request('GET', `/api/items/${item.id}`, { token });
  assert.equal(gone.status, 404);
  const again = await api.request('DELETE', `/api/items/${item.id}`, { token });
  assert.equal(again.status, 404);
});

test("users cannot see or change each other's items", async () => {
  const mine = (await api.request('POST', '/api/items', { token, body: { title: 'Private' } })).body;
  const path = `/api/items/${mine.id}`;

  assert.equal((await api.request('GET', path, { token: otherToken })).status, 404);
  assert.equal(
    (await api.request('PATCH', path, { token: otherToken, body: { title: 'Mine now' } })).status,
    404,
  );
  assert.equal((await api.request('DELETE', path, { token: otherToken })).status, 404);
  const theirs = await api.request('GET', '/api/items', { token: otherToken });
  assert.ok(!theirs.body.items.some((i) => i.id === mine.id), 'item leaked into another list');

  const still = await api.request('GET', path, { token });
  assert.equal(still.body.title, 'Private');
});

test('item bodies are validated field by field', async () => {
  const cases = [
    [{}, 'title'],
    [{ title: '   ' }, 'title'],
    [{ title: 'x'.repeat(201) }, 'title'],
    [{ title: 'ok', notes: 5 }, 'notes'],
    [{ title: 'ok', notes: 'x'.repeat(2001) }, 'notes'],
    [{ title: 'ok', done: 'yes' }, 'done'],
    [{ title: 'ok', owner_id: 2 }, 'owner_id'],
  ];
  for (const [body, field] of cases) {
    const res = await api.request('POST', '/api/items', { token, body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.ok(res.body.fields[field], `${JSON.stringify(body).slice(0, 40)} should flag ${field}`);
  }

  const item = (await api.request('POST', '/api/items', { token, body: { title: 'Valid' } })).body;
  const empty = await api.request('PATCH', `/api/items/${item.id}`, { token, body: {} });
  assert.equal(empty.status, 400);
  assert.ok(empty.body.fields.body);
  const nullTitle = await api.request('PATCH', `/api/items/${item.id}`, {
    token,
    body: { title: null },
  });
  assert.equal(nullTitle.status, 400);
});

test('malformed JSON is a 400 with a JSON error, not a crash', async () => {
  const res = await api.request('POST', '/api/items', { token, raw: '{"title": ' });
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(typeof res.body.error, 'string');
});

test('ids that cannot exist are 404, not database errors', async () => {
  for (const id of ['abc', '0', '-1', '1.5', '99999999999', '2147483648']) {
    const res = await api.request('GET', `/api/items/${id}`, { token });
    assert.equal(res.status, 404, `id ${id}`);
  }
  assert.deepEqual(api.logged, [], 'no server errors were logged');
});
