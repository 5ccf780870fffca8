'use strict';
// Entry point for `npm start` and Kiln's process deploy: wires the real Postgres pool and
// the JWT secret into the app and listens. Everything else lives in src/ so tests share it.

const { createApp } = require('./src/app');
const { resolveJwtSecret } = require('./src/auth');
const { createPool } = require('./src/db');
const { createRepository } = require('./src/repository');

let pool;
let app;
try {
  pool = createPool(process.env.DATABASE_URL);
  app = createApp({ repo: createRepository(pool), jwtSecret: resolveJwtSecret() });
} catch (err) {
  console.error(`cannot start: ${err.message}`);
  process.exit(1);
}

const port = Number(process.env.PORT || 3000);
// Loopback by default: Kiln's proxy is the only intended client.
const host = process.env.HOST || '127.0.0.1';

const server = app.listen(port, host, () => {
  console.log(`listening on http://${host}:${server.address().port}`);
});

server.on('error', (err) => {
  console.error(`cannot listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});

// The deployer stops apps with SIGTERM; let in-flight requests finish, but not forever.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => pool.end().finally(() => process.exit(0)));
    setTimeout(() => process.exit(0), 5000).unref();
  });
}
