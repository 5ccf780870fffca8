'use strict';
// Builds the Express app without listening, so tests can start it on a random port and
// server.js stays a thin entry point.

const fs = require('node:fs');
const path = require('node:path');
const express = require('express');

/** Reads the brief and stories Kiln wrote to kiln.json, tolerating missing fields. */
function loadKiln(file) {
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  const text = (value) => (typeof value === 'string' ? value : '');
  const stories = Array.isArray(data.stories) ? data.stories : [];
  return {
    project: text(data.project),
    title: text(data.title) || text(data.project) || 'Untitled',
    brief: text(data.brief),
    epic: text(data.epic),
    stories: stories.map((story) => ({
      title: text(story && story.title),
      description: text(story && story.description),
      acceptance: Array.isArray(story && story.acceptance) ? story.acceptance.map(text) : [],
    })),
  };
}

/**
 * The app may be mounted behind a path prefix that the proxy strips, so routes stay at `/`
 * and pages use relative URLs. The prefix is only needed to build absolute links.
 * Returns "" or "/prefix" without a trailing slash.
 */
function normaliseBasePath(value) {
  const trimmed = String(value || '').trim().replace(/\/+$/, '');
  if (trimmed === '') return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

/**
 * Creates the Express app.
 * @param {{ kilnFile?: string, basePath?: string }} [options] overrides for tests;
 *   basePath defaults to the BASE_PATH environment variable.
 */
function createApp(options = {}) {
  const kiln = loadKiln(options.kilnFile || path.join(__dirname, 'kiln.json'));
  const basePath = normaliseBasePath(options.basePath ?? process.env.BASE_PATH);

  const app = express();
  app.disable('x-powered-by');
  app.set('views', path.join(__dirname, 'views'));
  app.set('view engine', 'ejs');

  app.get('/', (req, res) => {
    res.render('index', { kiln, basePath });
  });

  app.get('/healthz', (req, res) => {
    res.json({ status: 'ok' });
  });

  // Read per request, not at startup, so the answer is always the environment's truth.
  app.get('/__kiln/version', (req, res) => {
    res.type('text/plain').send(process.env.KILN_BUILD_SHA || 'dev');
  });

  app.use(express.static(path.join(__dirname, 'public'), { index: false }));

  app.use((req, res) => {
    res.status(404).type('text/plain').send('Not found');
  });

  // Express recognises error handlers by their four parameters, so `next` must stay.
  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    console.error(err);
    res.status(500).type('text/plain').send('Internal server error');
  });

  return app;
}

module.exports = { createApp, loadKiln, normaliseBasePath };
