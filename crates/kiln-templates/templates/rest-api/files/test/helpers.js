'use strict';
// Shared test setup: the real repository and db/schema.sql on pg-mem (an in-memory
// Postgres emulator), the real app on a random loopback port, and a small fetch wrapper.

const fs = require('node:fs');
const path = require('node:path');
const { once } = require('node:events');
const { newDb } = require('pg-mem');
const { createApp } = require('../src/app');
const { createRepository } = require('../src/repository');

const ROOT = path.join(__dirname, '..');
const SCHEMA = fs.readFileSync(path.join(ROOT, 'db', 'schema.sql'), 'utf8');
const KILN = JSON.parse(fs.readFileSync(path.join(ROOT, 'kiln.json'), 'utf8'));
// Random per run: nothing secret-looking is committed, and tests never depend on its value.
const SECRET = require('node:crypto').randomBytes(32).toString('hex');

/**
 * A fresh in-memory database with the schema applied, and a pg-compatible pool on it.
 * pg-mem's strict mode stays on, so it fails loudly on SQL it would otherwise ignore.
 */
function memoryPool(options = {}) {
  const db = newDb(options);
  db.public.none(SCHEMA);
  const { Pool } = db.adapters.createPg();
  return { db, pool: new Pool() };
}

/** Starts `app` on a random loopback port; returns its base URL and a stop function. */
async function listen(app) {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop() {
      // fetch keeps connections alive; without this close() would wait for them.
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * Starts the real app on a fresh database. Errors the app logs are collected in `logged`
 * instead of cluttering the test output.
 */
async function startApp(overrides = {}) {
  const { pool } = memoryPool();
  const logged = [];
  const app = createApp({
    repo: createRepository(pool),
    jwtSecret: SECRET,
    logError: (message) => logged.push(message),
    ...overrides,
  });
  const running = await listen(app);
  return {
    ...running,
    pool,
    logged,
    /** JSON request; returns `{ status, headers, body }` with body parsed when JSON. */
    async request(method, urlPath, { body, token, raw } = {}) {
      const headers = {};
      if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await fetch(`${running.url}${urlPath}`, {
        method,
        headers,
        body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      });
      const text = await res.text();
      const json = (res.headers.get('content-type') || '').includes('application/json');
      return { status: res.status, headers: res.headers, body: json && text ? JSON.parse(text) : text };
    },
  };
}

/** Registers and logs in a user; returns the bearer token. */
async function signUp(api, email, password = 'correct horse battery') {
  const reg = await api.request('POST', '/api/auth/register', { body: { email, password } });
  if (reg.status !== 201) throw new Error(`register ${email}: ${reg.status} ${JSON.stringify(reg.body)}`);
  const login = await api.request('POST', '/api/auth/login', { body: { email, password } });
  if (login.status !== 200) throw new Error(`login ${email}: ${login.status} ${JSON.stringify(login.body)}`);
  return login.body.token;
}

module.exports = { KILN, SCHEMA, SECRET, listen, memoryPool, signUp, startApp };
