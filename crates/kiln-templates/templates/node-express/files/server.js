'use strict';
// Entry point for `npm start` and Kiln's process deploy. Everything but the socket lives in
// app.js so the tests exercise the same code.

const { createApp } = require('./app');

const port = Number(process.env.PORT || 3000);
// Loopback by default: Kiln's proxy is the only intended client.
const host = process.env.HOST || '127.0.0.1';

const server = createApp().listen(port, host, () => {
  console.log(`listening on http://${host}:${server.address().port}`);
});

server.on('error', (err) => {
  console.error(`cannot listen on ${host}:${port}: ${err.message}`);
  process.exit(1);
});

// The deployer stops apps with SIGTERM; let in-flight requests finish, but not forever.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  });
}
