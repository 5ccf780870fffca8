// Browser tests of the dashboard against a real Kiln: `kiln up` on the real NATS and Postgres,
// driven through Debian's headless Chromium with playwright-core (no browser download).
//
//   npm run test:e2e
//
// Starts its own Kiln (free ports, a temporary data directory, a random subject prefix, a
// fresh database `kiln_ui_<random>` that is dropped afterwards) with the built dashboard
// (`npm run build` first) and a slow variant of the static-site template (see slowTemplate), then:
//   0. signing in: a page without a session lands on /signin, a wrong token shows the API's
//      refusal, the admin token `kiln up` wrote to <data dir>/admin-token signs in, and a
//      mutation without the X-CSRF-Token header is refused (403) even with the session;
//   1. invalid form input shows the API's problem detail (word for word);
//   2. a task created from the form streams its log lines into the console;
//   3. mid-task, a reload, and a dropped WebSocket (a second tab behind a /kiln/ reverse
//      proxy), both end with exactly the server's log lines: no gaps, no duplicates;
//   4. the task reaches `deployed`, and its app URL opens the brief's page;
//   5. the pages fit a phone's width, and the app works under the proxy's path prefix (signed
//      in there with the `/signin#token=` link `kiln up` prints, which leaves no secret in the URL);
//   6. the kill switch pauses everything with a reason, the System page and the audit trail
//      show it, and it resumes;
// and writes the task detail screenshot the README shows (docs/task-detail.png).
//
// Environment: KILN_BIN (a built kiln; default: cargo build -p kiln), CHROMIUM (default
// /usr/bin/chromium), KILN_TEST_DATABASE_URL / KILN_TEST_NATS_URL (as the Rust tests),
// E2E_KEEP=1 keeps the data directory and database for inspection.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const frontend = resolve(here, '..');
const repo = resolve(frontend, '..');


/**
 * The shipped static-site template with a slow first test step (e2e/fixtures/slow.sh: ten
 * numbered lines a second apart), so a task's log is still streaming when the tests reload.
 * Derived at run time so the browser tests always exercise the real template.
 * @param {string} dataDir
 * @returns {string} the templates directory to pass as KILN_TEMPLATES_DIR
 */
function slowTemplate(dataDir) {
  const root = join(dataDir, 'templates');
  const dir = join(root, 'slow-site');
  cpSync(join(repo, 'crates/kiln-templates/templates/static-site'), dir, { recursive: true });
  cpSync(join(here, 'fixtures/slow.sh'), join(dir, 'files/slow.sh'));
  const manifest = join(dir, 'template.toml');
  let slow = readFileSync(manifest, 'utf8');
  /** @type {Array<[RegExp, string]>} */
  const substitutions = [
    [/^name = "static-site"$/m, 'name = "slow-site"'],
    [/^title = .*$/m, 'title = "Slow site (browser tests)"'],
    // A chat alias belongs to one template; the copy must not claim static-site's.
    [/^alias = "web"$/m, 'alias = "slow"'],
    [/^test = \["sh test.sh"\]$/m, 'test = ["sh slow.sh", "sh test.sh"]'],
  ];
  for (const [from, to] of substitutions) {
    assert.match(slow, from, `static-site's manifest changed shape; update slowTemplate():\n${slow}`);
    slow = slow.replace(from, to);
  }
  writeFileSync(manifest, slow);
  return root;
}
const dist = join(frontend, 'dist');
const screenshot = join(frontend, 'docs', 'task-detail.png');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const started = Date.now();

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** @param {string} message */
function step(message) {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  console.log(`[e2e ${s}s] ${message}`);
}

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** @param {string} url @param {string} db */
function withDatabase(url, db) {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * @param {string} what
 * @param {() => Promise<boolean>} check
 * @param {number} timeoutMs
 */
async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The admin token `kiln up` created for this fresh database: the secret it writes to
 * `<data dir>/admin-token`, else the one in the sign-in link it prints.
 * @param {string} dataDir @param {string} logFile
 * @returns {Promise<string>}
 */
async function adminToken(dataDir, logFile) {
  const file = join(dataDir, 'admin-token');
  /** @type {string} */
  let token = '';
  await until(
    `${file} (or a sign-in link in the log)`,
    async () => {
      if (existsSync(file)) token = readFileSync(file, 'utf8').trim();
      if (!token && existsSync(logFile)) {
        const m = /\/signin#token=(\S+)/.exec(readFileSync(logFile, 'utf8'));
        token = m?.[1] ?? '';
      }
      return token !== '';
    },
    30_000,
  );
  return token;
}

/**
 * One request/reply on core NATS with the plain text protocol (enough to delete streams
 * without a client library).
 * @param {string} natsUrl @param {string} subject @param {string} payload
 * @returns {Promise<string>}
 */
function natsRequest(natsUrl, subject, payload) {
  const u = new URL(natsUrl);
  return new Promise((res, rej) => {
    const sock = net.connect(Number(u.port || 4222), u.hostname);
    const inbox = `_INBOX.kilne2e.${randomBytes(6).toString('hex')}`;
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      rej(new Error(`no reply on ${subject}`));
    }, 5000);
    sock.setEncoding('utf8');
    sock.on('error', rej);
    sock.on('data', (chunk) => {
      buf += chunk;
      if (buf.startsWith('INFO') && !buf.includes('CONNECT_SENT')) {
        const body = Buffer.byteLength(payload);
        sock.write(
          `CONNECT {"verbose":false,"pedantic":false,"lang":"node","version":"0","protocol":1}\r\n` +
            `SUB ${inbox} 1\r\nPUB ${subject} ${inbox} ${body}\r\n${payload}\r\n`,
        );
        buf = buf.replace(/^INFO[^\n]*\n/, '') + 'CONNECT_SENT';
      }
      if (buf.includes('PING\r\n')) sock.write('PONG\r\n');
      const m = /MSG \S+ 1 (\d+)\r\n/.exec(buf);
      if (m) {
        const start = (m.index ?? 0) + m[0].length;
        const len = Number(m[1]);
        if (Buffer.byteLength(buf.slice(start)) >= len) {
          clearTimeout(timer);
          sock.end();
          res(buf.slice(start, start + len));
        }
      }
    });
  });
}

/**
 * A reverse proxy serving `target` under `prefix` (e.g. `/kiln`), WebSockets included, as a
 * site would mount Kiln; it strips the prefix like nginx's `proxy_pass http://kiln/;`.
 * `drop()` cuts every proxied WebSocket, as a flaky network would.
 * @param {string} target @param {string} prefix
 * @returns {Promise<{url: string, close: () => void, drop: () => number}>}
 */
function prefixProxy(target, prefix) {
  /** @type {Set<import('node:stream').Duplex>} */
  const sockets = new Set();
  const t = new URL(target);
  /** @param {string | undefined} url */
  const strip = (url = '/') => (url.startsWith(`${prefix}/`) ? url.slice(prefix.length) : null);
  const server = http.createServer((req, res) => {
    const path = strip(req.url);
    if (path === null) {
      res.writeHead(404).end('outside the prefix');
      return;
    }
    const up = http.request(
      { host: t.hostname, port: t.port, method: req.method, path, headers: { ...req.headers, host: t.host } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('upgrade', (req, socket, head) => {
    const path = strip(req.url);
    if (path === null) {
      socket.destroy();
      return;
    }
    const up = net.connect(Number(t.port), t.hostname, () => {
      let lines = `${req.method} ${path} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i] ?? '';
        lines += `${name}: ${name.toLowerCase() === 'host' ? t.host : req.rawHeaders[i + 1]}\r\n`;
      }
      up.write(`${lines}\r\n`);
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      up.destroy();
    });
  });
  return new Promise((res) => {
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      res({
        url: `http://127.0.0.1:${port}${prefix}`,
        close: () => {
          for (const s of sockets) s.destroy();
          server.closeAllConnections();
          server.close();
        },
        drop: () => {
          const n = sockets.size;
          for (const s of sockets) s.destroy();
          return n;
        },
      });
    });
  });
}

/**
 * Every line a task's log holds on the server, straight from /ws/logs (in the page).
 * @param {import('playwright-core').Page} page @param {string} taskId
 * @returns {Promise<number[]>}
 */
function serverSeqs(page, taskId) {
  return page.evaluate(async (tid) => {
    const url = new URL(`ws/logs?task_id=${tid}`, document.baseURI);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    /** @type {number[]} */
    const seqs = [];
    await new Promise((done) => {
      const ws = new WebSocket(url);
      let quiet = setTimeout(() => ws.close(), 2000);
      ws.onmessage = (e) => {
        seqs.push(JSON.parse(String(e.data)).seq);
        clearTimeout(quiet);
        quiet = setTimeout(() => ws.close(), 1500);
      };
      ws.onclose = () => done(undefined);
    });
    return seqs;
  }, taskId);
}

/**
 * Every line the console rendered, scrolling its virtual list from top to bottom.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<{seqs: number[], messages: string[], repeatedInWindow: number}>}
 */
function renderedLines(page) {
  return page.evaluate(async () => {
    const log = /** @type {HTMLElement} */ (document.querySelector('[role="log"]'));
    const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    /** @type {Map<number, string>} */
    const seen = new Map();
    let repeatedInWindow = 0;
    for (let top = 0; ; top += Math.max(20, log.clientHeight - 40)) {
      log.scrollTop = top;
      await frame();
      const rows = /** @type {HTMLElement[]} */ ([...log.querySelectorAll('[data-testid="log-line"]')]);
      const inWindow = rows.map((r) => Number(r.dataset.seq));
      repeatedInWindow += inWindow.length - new Set(inWindow).size;
      for (const r of rows) seen.set(Number(r.dataset.seq), r.textContent ?? '');
      if (top + log.clientHeight >= log.scrollHeight) break;
    }
    const seqs = [...seen.keys()].sort((a, b) => a - b);
    return { seqs, messages: seqs.map((q) => seen.get(q) ?? ''), repeatedInWindow };
  });
}

/**
 * The console of `page` shows exactly `expected`: no gap, nothing extra, each line once.
 * @param {import('playwright-core').Page} page @param {number[]} expected @param {string} which
 */
async function assertCompleteLog(page, expected, which) {
  const rendered = await renderedLines(page);
  assert.equal(rendered.repeatedInWindow, 0, `${which}: no line is rendered twice`);
  assert.deepEqual(rendered.seqs, expected, `${which}: the console shows exactly the server's lines`);
  for (let n = 1; n <= 10; n++) {
    const found = rendered.messages.filter((m) => m.includes(`tick ${n} of 10`)).length;
    assert.equal(found, 1, `${which}: tick ${n} shown once`);
  }
  const countText = await page.getByTestId('log-count').textContent();
  assert.equal(countText, `${expected.length.toLocaleString('en-US')} lines`, `${which}: line count`);
}

async function main() {
  // ---- build what the test runs
  let bin = process.env.KILN_BIN ? resolve(process.env.KILN_BIN) : '';
  if (!bin) {
    step('building kiln (cargo build -p kiln)');
    execFileSync('cargo', ['build', '--quiet', '-p', 'kiln'], { cwd: repo, stdio: 'inherit' });
    bin = join(repo, 'target', 'debug', 'kiln');
  }
  if (!existsSync(join(dist, 'index.html'))) {
    step('building the dashboard (npm run build)');
    execFileSync('npm', ['run', 'build'], { cwd: frontend, stdio: 'inherit' });
  }
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install chromium (bash infra/scripts/setup.sh does)`);

  // ---- start Kiln
  const id = randomBytes(4).toString('hex');
  const prefix = `ui${id}`;
  const dbName = `kiln_ui_${id}`;
  const admin = process.env.KILN_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const natsUrl = process.env.KILN_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
  const [httpPort, appsPort] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), 'kiln-ui-'));
  const profile = mkdtempSync(join(tmpdir(), 'kiln-ui-chromium-'));
  const logFile = join(dataDir, 'kiln-up.log');
  const templates = slowTemplate(dataDir);
  const base = `http://127.0.0.1:${httpPort}`;
  step(`starting kiln up on ${base} (prefix ${prefix}, database ${dbName})`);
  const kiln = spawn(
    bin,
    ['up', '--http', `127.0.0.1:${httpPort}`, '--apps-http', `127.0.0.1:${appsPort}`, '--data-dir', dataDir, '--prefix', prefix],
    {
      cwd: repo,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        KILN_DATABASE_URL: withDatabase(admin, dbName),
        KILN_NATS_URL: natsUrl,
        KILN_API__DASHBOARD_DIR: dist,
        KILN_TEMPLATES_DIR: templates,
        KILN_RUNTIME__LOG_FILTER: 'info',
      },
    },
  );
  const log = createWriteStream(logFile);
  kiln.stdout.pipe(log);
  kiln.stderr.pipe(log);
  let kilnExited = false;
  kiln.on('exit', () => (kilnExited = true));

  /** @type {import('playwright-core').BrowserContext | null} */
  let browser = null;
  /** @type {{url: string, close: () => void, drop: () => number} | null} */
  let proxy = null;
  let failed = false;
  try {
    await until(
      'the API to answer /health',
      async () => {
        if (kilnExited) throw new Error('kiln up exited during start-up');
        return (await fetch(`${base}/health`)).ok;
      },
      120_000,
    );

    proxy = await prefixProxy(base, '/kiln');
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 1000 },
      deviceScaleFactor: 1,
      colorScheme: 'light',
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    /** @type {string[]} */
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.setDefaultTimeout(30_000);

    // ---- 0. signing in
    const token = await adminToken(dataDir, logFile);
    const bearer = { authorization: `Bearer ${token}` };
    step('without a session, a page lands on /signin');
    await page.goto(`${base}/tasks/new`);
    await page.waitForURL(`${base}/signin?next=%2Ftasks%2Fnew`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const anonymous = await fetch(`${base}/api/v1/tasks`);
    assert.equal(anonymous.status, 401, 'the API wants a session or token');
    assert.equal(anonymous.headers.get('content-type'), 'application/problem+json');

    step('a wrong token shows the API\'s refusal');
    const tokenField = page.getByLabel('API token');
    await tokenField.fill('kiln_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'Not signed in' });
    await refusal.waitFor();
    assert.match((await refusal.textContent()) ?? '', /not valid/);
    assert.ok(page.url().startsWith(`${base}/signin`), `still signing in: ${page.url()}`);

    step('signing in with the admin token from <data dir>/admin-token');
    await tokenField.fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/tasks/new`);
    await page.getByTestId('session-name').filter({ hasText: 'admin' }).waitFor();
    const cookies = await browser.cookies(base);
    const session = cookies.find((c) => c.name === 'kiln_session');
    assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
    assert.equal(session?.sameSite, 'Strict');

    step('with the session, a mutation without X-CSRF-Token is refused');
    /** @param {boolean} withCsrf */
    const postFromPage = (withCsrf) =>
      page.evaluate(async (csrf) => {
        const token = /(?:^|;\s*)kiln_csrf=([^;]*)/.exec(document.cookie)?.[1] ?? '';
        /** @type {Record<string, string>} */
        const headers = { 'content-type': 'application/json' };
        if (csrf) headers['x-csrf-token'] = decodeURIComponent(token);
        const r = await fetch(new URL('api/v1/tasks', document.baseURI), {
          method: 'POST',
          credentials: 'same-origin',
          headers,
          body: JSON.stringify({ kind: 'new_app', template: 'slow-site', name: 'Bad Name', brief: 'csrf check' }),
        });
        return { status: r.status, type: r.headers.get('content-type'), body: await r.text() };
      }, withCsrf);
    const noCsrf = await postFromPage(false);
    assert.equal(noCsrf.status, 403, `without the header: ${noCsrf.body}`);
    assert.equal(noCsrf.type, 'application/problem+json');
    assert.match(noCsrf.body, /csrf/i);
    const withCsrf = await postFromPage(true);
    assert.equal(withCsrf.status, 422, `with the header the API gets as far as the name: ${withCsrf.body}`);

    // ---- 1. invalid input shows the API's problem detail
    step('invalid name: the form shows the API\'s detail');
    await page.getByRole('heading', { name: 'New task' }).waitFor();
    const template = page.getByRole('radio', { name: /Slow site/ });
    await template.check({ force: true });
    await page.getByRole('textbox', { name: 'Project name' }).fill('Bad Name');
    const brief = `A landing page for the ${id} bakery: fresh sourdough daily, opening hours and a contact form.`;
    await page.getByRole('textbox', { name: 'Brief' }).fill(brief);
    await page.getByRole('button', { name: 'Create task' }).click();
    const nameError = page.locator('#field-name-error');
    await nameError.waitFor();
    const apiAnswer = await page.request.post(`${base}/api/v1/tasks`, {
      headers: bearer,
      data: { kind: 'new_app', template: 'slow-site', name: 'Bad Name', brief },
    });
    assert.equal(apiAnswer.status(), 422);
    assert.equal(apiAnswer.headers()['content-type'], 'application/problem+json');
    const apiDetail = /** @type {{detail: string}} */ (await apiAnswer.json()).detail;
    assert.equal(await nameError.textContent(), apiDetail, 'the form words the name problem as the API does');

    // ---- 2. create from the form and watch the log stream in
    const project = `slow-${id}`;
    step(`creating ${project} from the form`);
    await page.getByRole('textbox', { name: 'Project name' }).fill(project);
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const taskId = page.url().split('/').pop() ?? '';
    step(`task ${taskId}: waiting for its log to stream in`);
    const lines = page.getByTestId('log-line');
    await lines.filter({ hasText: 'tick 2 of 10' }).waitFor({ timeout: 90_000 });
    assert.equal(await page.getByTestId('log-status').getAttribute('data-status'), 'live');

    // ---- 3. a dropped connection, and a reload, mid-task
    step('a second tab behind the /kiln/ proxy: dropping its log connection mid-task');
    const tab = await browser.newPage();
    tab.on('pageerror', (e) => pageErrors.push(`second tab: ${e.message}`));
    await tab.goto(`${proxy.url}/tasks/${taskId}`);
    const tabLines = tab.getByTestId('log-line');
    await tabLines.filter({ hasText: /tick \d+ of 10/ }).first().waitFor();
    assert.ok(proxy.drop() >= 1, 'the tab had a log connection to drop');
    await tab.getByTestId('log-status').filter({ hasText: /reconnected 1×/ }).waitFor({ timeout: 20_000 });

    const status = page.getByTestId('status').first();
    const before = await status.textContent();
    assert.ok(before && !['deployed', 'failed', 'blocked', 'cancelled'].includes(before), `task still running at the reload (${before})`);
    assert.equal(await lines.filter({ hasText: 'slow checks passed' }).count(), 0, 'reloading before the slow step ends');
    step(`reloading mid-task (status ${before})`);
    await page.reload();
    await lines.filter({ hasText: 'slow checks passed' }).waitFor({ timeout: 60_000 });

    // ---- 4. deployed, and the app opens
    step('waiting for deployed');
    await page.waitForFunction(
      () => {
        const s = document.querySelector('[data-testid="status"]')?.textContent;
        if (s === 'failed' || s === 'blocked' || s === 'cancelled') throw new Error(`task ended ${s}`);
        return s === 'deployed';
      },
      undefined,
      { timeout: 120_000, polling: 250 },
    );
    await page.getByTestId('app-url').waitFor();

    step('checking the logs for gaps and duplicates');
    const expected = await serverSeqs(page, taskId);
    assert.ok(expected.length > 20, `the task logged ${expected.length} lines`);
    await assertCompleteLog(page, expected, 'reloaded tab');
    await assertCompleteLog(tab, expected, 'tab whose connection dropped');
    await tab.close();
    step(`logs complete: ${expected.length} lines, seq ${expected[0]}..${expected.at(-1)}, none missing or repeated`);

    // The screenshot the README shows.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.mouse.move(0, 0);
    await page.waitForTimeout(300);
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
    step(`screenshot written to ${screenshot}`);

    step('opening the app URL');
    const appUrl = (await page.getByTestId('app-url').textContent()) ?? '';
    assert.ok(appUrl.startsWith(`http://127.0.0.1:${appsPort}/apps/${project}/`), appUrl);
    const [popup] = await Promise.all([
      browser.waitForEvent('page'),
      page.getByRole('link', { name: /open app/i }).click(),
    ]);
    await popup.waitForLoadState();
    assert.equal(popup.url(), appUrl);
    const appText = await popup.locator('body').innerText();
    assert.ok(appText.includes('fresh sourdough daily'), `the app shows the brief: ${appText.slice(0, 300)}`);
    await popup.close();

    // ---- the API's own answer to a taken name, shown at the field
    step('a taken name: the form shows the API\'s conflict');
    await page.goto(`${base}/tasks/new`);
    await page.getByRole('radio', { name: /Slow site/ }).check({ force: true });
    await page.getByRole('textbox', { name: 'Project name' }).fill(project);
    await page.getByRole('textbox', { name: 'Brief' }).fill('Another page');
    await page.getByRole('button', { name: 'Create task' }).click();
    await nameError.waitFor();
    const conflict = await page.request.post(`${base}/api/v1/tasks`, {
      headers: bearer,
      data: { kind: 'new_app', template: 'slow-site', name: project, brief: 'Another page' },
    });
    assert.equal(conflict.status(), 409);
    assert.equal(await nameError.textContent(), /** @type {{detail: string}} */ (await conflict.json()).detail);

    // ---- 5. a phone's width
    step('checking the pages at phone width');
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of ['/', `/tasks/${taskId}`, '/projects', `/projects/${project}`, '/system', '/audit', '/tokens', '/tasks/new']) {
      await page.goto(`${base}${path}`);
      await page.locator('main h1').first().waitFor();
      await page.waitForTimeout(300);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 390, `${path} is ${width}px wide on a 390px screen`);
    }
    await page.goto(`${base}/`);
    await page.getByTestId('task-card').first().waitFor();

    // ---- behind a reverse proxy under a path prefix, signed in by the printed link
    step('signing out, and in again with the /signin#token= link behind the proxy at /kiln/');
    await page.setViewportSize({ width: 1440, height: 1000 });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${base}/signin`);
    assert.equal((await fetch(`${base}/api/v1/session`, { headers: { cookie: `kiln_session=${session?.value}` } })).status, 401, 'signing out ends the session');
    await page.goto(`${proxy.url}/signin#token=${token}`);
    // The dashboard's root under the prefix: `/kiln` or `/kiln/`.
    const prefixRoot = new URL(proxy.url).pathname;
    await page.waitForURL((u) => u.pathname.replace(/\/$/, '') === prefixRoot);
    assert.ok(!page.url().includes(token), `the secret left the address: ${page.url()}`);
    assert.equal(await page.evaluate(() => location.hash), '');
    await page.getByTestId('session-name').filter({ hasText: 'admin' }).waitFor();
    await page.goto(`${proxy.url}/tasks/${taskId}`);
    await page.getByRole('heading', { level: 1, name: project }).waitFor();
    await lines.filter({ hasText: 'slow checks passed' }).waitFor();
    assert.equal(await page.getByTestId('status').first().textContent(), 'deployed');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Projects' }).click();
    await page.waitForURL(`${proxy.url}/projects`);
    await page.getByRole('link', { name: project, exact: true }).click();
    await page.waitForURL(`${proxy.url}/projects/${project}`);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: project }).waitFor();

    // ---- the System page sees the running services
    await page.setViewportSize({ width: 1440, height: 1000 });
    await page.goto(`${base}/system`);
    await page.getByTestId('service-api').getByText(/1\/1 alive/).waitFor({ timeout: 20_000 });

    // ---- 6. the kill switch
    const reason = `e2e ${id}: checking the kill switch`;
    step('pausing everything from the System page');
    const pauseState = page.getByTestId('pause-state');
    assert.equal(await pauseState.getAttribute('data-paused'), 'false');
    await page.getByRole('switch', { name: 'Pause the pipeline' }).click();
    const pauseDialog = page.getByRole('dialog', { name: 'Pause everything' });
    await pauseDialog.getByRole('textbox', { name: 'Reason' }).fill(reason);
    await pauseDialog.getByRole('button', { name: 'Pause' }).click();
    await page.locator('[data-testid="pause-state"][data-paused="true"]').waitFor();
    assert.equal(await pauseState.getByTestId('pause-reason').textContent(), `“${reason}”`);
    assert.equal(await pauseState.getByTestId('pause-actor').textContent(), 'admin');
    const reach = (await page.getByTestId('pause-reach').textContent()) ?? '';
    step(`paused: ${reach}`);
    const paused = /** @type {{paused: boolean, reason: string, actor: string}} */ (
      await (await fetch(`${base}/api/v1/system/pause`, { headers: bearer })).json()
    );
    assert.deepEqual([paused.paused, paused.reason, paused.actor], [true, reason, 'admin']);
    await page.reload();
    await page.locator('[data-testid="pause-state"][data-paused="true"]').waitFor();
    assert.equal(await page.getByRole('switch', { name: 'Pause the pipeline' }).getAttribute('aria-checked'), 'true');

    step('resuming');
    await page.getByRole('switch', { name: 'Pause the pipeline' }).click();
    await page.getByRole('dialog', { name: 'Resume everything' }).getByRole('button', { name: 'Resume' }).click();
    await page.locator('[data-testid="pause-state"][data-paused="false"]').waitFor();
    const resumed = /** @type {{paused: boolean}} */ (await (await fetch(`${base}/api/v1/system/pause`, { headers: bearer })).json());
    assert.equal(resumed.paused, false);

    step('the audit trail shows the pause and the resume');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit' }).click();
    await page.waitForURL(`${base}/audit`);
    await page.getByRole('textbox', { name: 'Action' }).fill('system.');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(`${base}/audit?action=system.`);
    const actions = page.getByTestId('audit-action');
    await actions.filter({ hasText: 'system.resume' }).waitFor();
    assert.deepEqual(await actions.allTextContents(), ['system.resume', 'system.pause']);
    await page.getByTestId('audit-entry').filter({ hasText: reason }).waitFor();

    assert.deepEqual(pageErrors, [], 'no script errors on any page');
    step('all browser tests passed');
  } catch (e) {
    failed = true;
    console.error(e);
    try {
      const text = readFileSync(logFile, 'utf8').split('\n');
      console.error(`---- last lines of kiln up (${logFile})\n${text.slice(-60).join('\n')}`);
    } catch {
      // no log
    }
  } finally {
    await browser?.close().catch(() => {});
    proxy?.close();
    step('stopping kiln up');
    if (!kilnExited && kiln.pid) {
      kiln.kill('SIGTERM');
      await until('kiln up to stop', async () => kilnExited, 40_000).catch(() => {
        if (kiln.pid) process.kill(-kiln.pid, 'SIGKILL');
      });
    }
    log.end();
    if (process.env.E2E_KEEP === '1') {
      step(`kept ${dataDir} and database ${dbName}`);
    } else {
      try {
        execFileSync('psql', [admin, '-qc', `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`], { stdio: 'ignore' });
      } catch (e) {
        console.error(`could not drop ${dbName}: ${String(e)}`);
      }
      for (const suffix of ['WORK', 'EVENTS', 'LOGS', 'DLQ']) {
        await natsRequest(natsUrl, `$JS.API.STREAM.DELETE.${prefix.toUpperCase()}_${suffix}`, '').catch(() => {});
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
    rmSync(profile, { recursive: true, force: true });
  }
  if (failed) process.exit(1);
}

await main();
