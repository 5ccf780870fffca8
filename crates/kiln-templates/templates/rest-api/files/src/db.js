'use strict';
// The connection pool for the real database. Kept apart from the repository so tests can
// hand the repository a pg-mem pool instead, with the same `query(text, params)` interface.

const { Pool } = require('pg');

/**
 * Creates a pg pool for `connectionString` (a postgres:// URL).
 * Timeouts are short so /healthz answers 503 promptly when the database is unreachable
 * instead of hanging until the proxy gives up.
 */
function createPool(connectionString, options = {}) {
  if (!connectionString) {
    throw new Error(
      'DATABASE_URL is not set: Kiln sets it on deploy; for local development export ' +
        'DATABASE_URL=postgres://user:password@127.0.0.1:5432/dbname and apply db/schema.sql',
    );
  }
  const pool = new Pool({
    connectionString,
    max: 10,
    connectionTimeoutMillis: 3000,
    query_timeout: 10000,
    ...options,
  });
  // An idle client losing its connection emits here; without a listener it would crash
  // the process. The next query simply gets a fresh connection.
  pool.on('error', (err) => {
    console.error(`database connection lost: ${err.message}`);
  });
  return pool;
}

module.exports = { createPool };
