'use strict';
// Registration, login and token checks through the real app and repository on pg-mem.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const jwt = require('jsonwebtoken');
const { resolveJwtSecret, MIN_SECRET_LENGTH } = require('../src/auth');
const { SECRET, startApp, signUp } = require('./helpers');

let api;

before(async () => {
  api = await startApp();
});

after(() => {
  api.stop();
});

test('register creates a user and never returns the password or its hash', async () => {
  const res = await api.request('POST', '/api/auth/register', {
    body: { email: '  Ada@Example.com ', password: 'analytical engine' },
  });
  assert.equal(res.status, 201);
  assert.equal(res.body.email, 'ada@example.com', 'email is trimmed and lower-cased');
  assert.ok(Number.isInteger(res.body.id) && res.body.id > 0);
  assert.deepEqual(Object.keys(res.body).sort(), ['email', 'id']);

  const { rows } = await api.pool.query('SELECT password_hash FROM users WHERE email = $1', [
    'ada@example.com',
  ]);
  assert.match(rows[0].password_hash, /^\$2[aby]\$10\$/, 'stored as a bcrypt hash');
});

test('register refuses an email that is already taken, in any case', async () => {
  await signUp(api, 'grace@example.com');
  const res = await api.request('POST', '/api/auth/register', {
    body: { email: 'GRACE@example.com', password: 'another password' },
  });
  assert.equal(res.status, 409);
  assert.equal(res.body.error, 'email already registered');
});

test('register validates email and password, naming each field', async () => {
  const cases = [
    [{ email: 'not-an-email', password: 'long enough' }, 'email'],
    [{ password: 'long enough' }, 'email'],
    [{ email: 'x@example.com', password: 'short' }, 'password'],
    [{ email: 'x@example.com', password: 'é'.repeat(40) }, 'password'],
    [{ email: 'x@example.com', password: 12345678 }, 'password'],
  ];
  for (const [body, field] of cases) {
    const res = await api.request('POST', '/api/auth/register', { body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error, 'validation failed');
    assert.ok(res.body.fields[field], `${JSON.stringify(body)} should flag ${field}`);
  }
  const list = await api.request('POST', '/api/auth/register', { body: ['x'] });
  assert.equal(list.status, 400);
});

test('login returns a bearer token for the user', async () => {
  const token = await signUp(api, 'linus@example.com', 'penguins rule');
  const claims = jwt.verify(token, SECRET, { algorithms: ['HS256'] });
  assert.equal(claims.email, 'linus@example.com');
  assert.match(claims.sub, /^[1-9][0-9]*$/);
  assert.ok(claims.exp > claims.iat, 'token expires');

  const res = await api.request('POST', '/api/auth/login', {
    body: { email: 'linus@example.com', password: 'penguins rule' },
  });
  assert.equal(res.body.token_type, 'Bearer');
  assert.equal(res.body.expires_in, 3600);
});

test('login gives one answer for a wrong password and an unknown email', async () => {
  await signUp(api, 'margaret@example.com', 'apollo guidance');
  const wrong = await api.request('POST', '/api/auth/login', {
    body: { email: 'margaret@example.com', password: 'apollo guidanc3' },
  });
  const unknown = await api.request('POST', '/api/auth/login', {
    body: { email: 'nobody@example.com', password: 'apollo guidance' },
  });
  const malformed = await api.request('POST', '/api/auth/login', { body: { email: 'x' } });
  for (const res of [wrong, unknown, malformed]) {
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, { error: 'wrong email or password' });
  }
});

test('protected routes refuse missing, forged, expired and unsigned tokens', async () => {
  const token = await signUp(api, 'alan@example.com');
  const { sub, email } = jwt.decode(token);
  const forged = jwt.sign({ email }, 'some-other-secret-of-sufficient-length-000000', {
    subject: sub,
  });
  const expired = jwt.sign({ email, exp: Math.floor(Date.now() / 1000) - 60 }, SECRET, {
    subject: sub,
  });
  const unsigned = jwt.sign({ email }, null, { algorithm: 'none', subject: sub });

  const missing = await api.request('GET', '/api/items');
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get('www-authenticate'), 'Bearer');

  for (const [bad, error] of [
    ['garbage', 'invalid token'],
    [forged, 'invalid token'],
    [expired, 'token expired'],
    [unsigned, 'invalid token'],
  ]) {
    const res = await api.request('GET', '/api/items', { token: bad });
    assert.equal(res.status, 401, `token ${bad.slice(0, 20)}... accepted`);
    assert.equal(res.body.error, error);
    assert.match(res.headers.get('www-authenticate'), /^Bearer error="invalid_token"/);
  }

  const ok = await api.request('GET', '/api/items', { token });
  assert.equal(ok.status, 200);
});

test('JWT_SECRET is used when set and rejected when too short', () => {
  const warnings = [];
  const long = 'x'.repeat(MIN_SECRET_LENGTH);
  assert.equal(resolveJwtSecret({ JWT_SECRET: long }, (m) => warnings.push(m)), long);
  assert.deepEqual(warnings, []);
  assert.throws(() => resolveJwtSecret({ JWT_SECRET: 'short' }), /JWT_SECRET is too short/);
});

test('without JWT_SECRET a random secret is used and the warning does not reveal it', () => {
  const warnings = [];
  const first = resolveJwtSecret({}, (m) => warnings.push(m));
  const second = resolveJwtSecret({}, (m) => warnings.push(m));
  assert.notEqual(first, second, 'secrets must be random, not derived');
  assert.ok(first.length >= MIN_SECRET_LENGTH);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /tokens stop working when the app restarts/);
  assert.ok(!warnings.join('\n').includes(first), 'secret leaked into the log');
});
