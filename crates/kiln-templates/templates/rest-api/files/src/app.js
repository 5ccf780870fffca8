'use strict';
// Builds the Express app from its parts (repository, JWT secret, kiln.json) without
// listening, so tests can pass an in-memory database and start it on a random port.

const path = require('node:path');
const express = require('express');
const auth = require('./auth');
const validate = require('./validate');
const { loadKiln } = require('./kiln');
const { renderHome } = require('./page');

/**
 * The app may be mounted behind a path prefix that the proxy strips, so routes stay at `/`.
 * Returns "" or "/prefix" without a trailing slash.
 */
function normaliseBasePath(value) {
  const trimmed = String(value || '').trim().replace(/\/+$/, '');
  if (trimmed === '') return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function invalid(res, errors) {
  return res.status(400).json({ error: 'validation failed', fields: errors });
}

/**
 * @param {object} options
 * @param {ReturnType<typeof import('./repository').createRepository>} options.repo
 * @param {string} options.jwtSecret see auth.resolveJwtSecret
 * @param {string} [options.kilnFile] defaults to kiln.json in the app root
 * @param {string} [options.basePath] defaults to the BASE_PATH environment variable
 * @param {(message: string) => void} [options.logError] defaults to console.error
 */
function createApp({ repo, jwtSecret, kilnFile, basePath, logError = console.error }) {
  if (!repo) throw new Error('createApp needs a repository');
  if (!jwtSecret) throw new Error('createApp needs a JWT secret');
  const kiln = loadKiln(kilnFile || path.join(__dirname, '..', 'kiln.json'));
  const prefix = normaliseBasePath(basePath ?? process.env.BASE_PATH);
  const requireAuth = auth.requireAuth(jwtSecret);

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '100kb' }));

  app.get('/', (req, res) => {
    res.type('html').send(renderHome(kiln, prefix));
  });

  app.get('/healthz', async (req, res) => {
    try {
      await repo.ping();
      res.json({ status: 'ok', database: 'ok' });
    } catch (err) {
      // The driver's message can include host names; it goes to the log, not the client.
      logError(`health check: database unavailable: ${err.message}`);
      res.status(503).json({ status: 'unavailable', database: 'unreachable' });
    }
  });

  // Read per request, not at startup, so the answer is always the environment's truth.
  app.get('/__kiln/version', (req, res) => {
    res.type('text/plain').send(process.env.KILN_BUILD_SHA || 'dev');
  });

  app.post('/api/auth/register', async (req, res) => {
    const { value, errors } = validate.credentials(req.body);
    if (errors) return invalid(res, errors);
    const user = await repo.createUser(value.email, await auth.hashPassword(value.password));
    if (!user) return res.status(409).json({ error: 'email already registered' });
    return res.status(201).json({ id: user.id, email: user.email });
  });

  app.post('/api/auth/login', async (req, res) => {
    const { value, errors } = validate.credentials(req.body);
    // One answer for every failure, so the endpoint does not reveal which emails exist.
    const refuse = () => res.status(401).json({ error: 'wrong email or password' });
    if (errors) return refuse();
    const user = await repo.findUserByEmail(value.email);
    const ok = await auth.checkPassword(value.password, user ? user.password_hash : auth.DUMMY_HASH);
    if (!user || !ok) return refuse();
    return res.json(auth.issueToken(jwtSecret, user));
  });

  const items = express.Router();
  items.use(requireAuth);

  items.get('/', async (req, res) => {
    res.json({ items: await repo.listItems(req.user.id) });
  });

  items.post('/', async (req, res) => {
    const { value, errors } = validate.item(req.body);
    if (errors) return invalid(res, errors);
    const item = await repo.createItem(req.user.id, value);
    return res.status(201).location(`items/${item.id}`).json(item);
  });

  const notFound = (res) => res.status(404).json({ error: 'item not found' });

  items.get('/:id', async (req, res) => {
    const id = validate.itemId(req.params.id);
    const item = id && (await repo.getItem(req.user.id, id));
    return item ? res.json(item) : notFound(res);
  });

  items.patch('/:id', async (req, res) => {
    const id = validate.itemId(req.params.id);
    if (!id) return notFound(res);
    const { value, errors } = validate.item(req.body, { partial: true });
    if (errors) return invalid(res, errors);
    const item = await repo.updateItem(req.user.id, id, value);
    return item ? res.json(item) : notFound(res);
  });

  items.delete('/:id', async (req, res) => {
    const id = validate.itemId(req.params.id);
    const deleted = id && (await repo.deleteItem(req.user.id, id));
    return deleted ? res.status(204).end() : notFound(res);
  });

  app.use('/api/items', items);

  app.use((req, res) => {
    res.status(404).json({ error: 'not found' });
  });

  // Express recognises error handlers by their four parameters, so `next` must stay.
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    // body-parser marks client mistakes (malformed JSON, too large) with a 4xx status.
    const status = Number.isInteger(err.status) && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) {
      logError(err.stack || String(err));
      return res.status(500).json({ error: 'internal server error' });
    }
    return res.status(status).json({ error: err.expose ? err.message : 'bad request' });
  });

  return app;
}

module.exports = { createApp, normaliseBasePath };
