'use strict';
// The repository's SQL and db/schema.sql, run on pg-mem without going through HTTP.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { createRepository } = require('../src/repository');
const { SCHEMA, memoryPool } = require('./helpers');

test('schema.sql can be applied again without error (deploys re-run it)', async () => {
  // pg-mem's strict AST check trips on re-declaring an existing table even with
  // IF NOT EXISTS, so this one database runs without it.
  const { db, pool } = memoryPool({ noAstCoverageCheck: true });
  const repo = createRepository(pool);
  const user = await repo.createUser('keep@example.com', 'hash');
  db.public.none(SCHEMA);
  assert.deepEqual(await repo.findUserByEmail('keep@example.com'), {
    id: user.id,
    email: 'keep@example.com',
    password_hash: 'hash',
  });
});

test('createUser returns null for a taken email instead of throwing', async () => {
  const repo = createRepository(memoryPool().pool);
  const first = await repo.createUser('a@example.com', 'h1');
  assert.equal(first.email, 'a@example.com');
  assert.equal(await repo.createUser('a@example.com', 'h2'), null);
  assert.equal((await repo.findUserByEmail('a@example.com')).password_hash, 'h1');
  assert.equal(await repo.findUserByEmail('b@example.com'), null);
});

test('items are scoped to their owner and updates are partial', async () => {
  const repo = createRepository(memoryPool().pool);
  const ann = await repo.createUser('ann@example.com', 'h');
  const bob = await repo.createUser('bob@example.com', 'h');
  const a1 = await repo.createItem(ann.id, { title: 'first' });
  const a2 = await repo.createItem(ann.id, { title: 'second', notes: 'n', done: true });
  await repo.createItem(bob.id, { title: "bob's" });

  assert.deepEqual(
    (await repo.listItems(ann.id)).map((i) => [i.title, i.notes, i.done]),
    [
      ['first', '', false],
      ['second', 'n', true],
    ],
  );
  assert.equal(await repo.getItem(bob.id, a1.id), null);
  assert.equal(await repo.updateItem(bob.id, a1.id, { title: 'x' }), null);
  assert.equal(await repo.deleteItem(bob.id, a1.id), false);

  const updated = await repo.updateItem(ann.id, a2.id, { done: false });
  assert.deepEqual([updated.title, updated.notes, updated.done], ['second', 'n', false]);
  assert.equal(await repo.deleteItem(ann.id, a1.id), true);
  assert.deepEqual(
    (await repo.listItems(ann.id)).map((i) => i.id),
    [a2.id],
  );
});

test('user text is passed as parameters, never spliced into SQL', async () => {
  const repo = createRepository(memoryPool().pool);
  const user = await repo.createUser("o'brien@example.com", 'h');
  const title = "x'); DROP TABLE items; --";
  const item = await repo.createItem(user.id, { title });
  assert.equal((await repo.getItem(user.id, item.id)).title, title);
  assert.equal((await repo.findUserByEmail("o'brien@example.com")).id, user.id);
});

test('ping resolves on a working database and rejects on a broken one', async () => {
  await assert.doesNotReject(createRepository(memoryPool().pool).ping());
  const broken = { query: async () => Promise.reject(new Error('connection refused')) };
  await assert.rejects(createRepository(broken).ping(), /connection refused/);
});
