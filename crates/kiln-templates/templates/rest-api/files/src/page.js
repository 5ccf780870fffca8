'use strict';
// The HTML home page, built with one escaping helper instead of a template engine: every
// interpolated value goes through `escapeHtml`, because the brief and stories are user text.

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** Tagged template: escapes every interpolation unless it is already `html`-built markup. */
class Html {
  constructor(text) {
    this.text = text;
  }

  toString() {
    return this.text;
  }
}

function html(strings, ...values) {
  let out = strings[0];
  values.forEach((value, i) => {
    const parts = Array.isArray(value) ? value : [value];
    out += parts.map((v) => (v instanceof Html ? v.text : escapeHtml(v ?? ''))).join('');
    out += strings[i + 1];
  });
  return new Html(out);
}

const ENDPOINTS = [
  ['POST', 'api/auth/register', 'no', '{"email", "password"} → 201 {"id", "email"}; 409 when taken'],
  ['POST', 'api/auth/login', 'no', '{"email", "password"} → {"token", "token_type", "expires_in"}'],
  ['GET', 'api/items', 'yes', 'your items, oldest first'],
  ['POST', 'api/items', 'yes', '{"title", "notes"?, "done"?} → 201 item'],
  ['GET', 'api/items/:id', 'yes', 'one item; 404 when missing or not yours'],
  ['PATCH', 'api/items/:id', 'yes', 'any of {"title", "notes", "done"} → updated item'],
  ['DELETE', 'api/items/:id', 'yes', '204'],
  ['GET', 'healthz', 'no', '{"status":"ok"} when the database answers; 503 otherwise'],
  ['GET', '__kiln/version', 'no', 'build stamp as text/plain'],
];

const STYLE = `
body{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1d232b;background:#f6f7f9}
.wrap{max-width:60rem;margin:0 auto;padding:0 1.25rem}
header{background:#14324a;color:#fff;padding:2.5rem 0 2rem}
header a{color:#bfe0ff}.brief{white-space:pre-line;max-width:45rem}
section.story{background:#fff;border:1px solid #dde2e8;border-radius:8px;padding:1rem 1.25rem;margin:0 0 1rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border:1px solid #dde2e8;padding:.4rem .6rem;text-align:left;vertical-align:top}
code{font-family:ui-monospace,monospace;font-size:.9em}footer{color:#5b6673;padding:2rem 0}`;

/**
 * Renders the home page for `kiln` (see loadKiln). `basePath` is the prefix the proxy
 * strips ("" or "/apps/x"); links stay relative so they work under any prefix.
 */
function renderHome(kiln, basePath = '') {
  const stories =
    kiln.stories.length === 0
      ? html`<p class="empty">No stories yet.</p>`
      : kiln.stories.map(
          (story, index) => html`
      <section class="story" id="story-${index + 1}">
        <h3>${story.title}</h3>
        ${story.description ? html`<p>${story.description}</p>` : ''}
        ${
          story.acceptance.length > 0
            ? html`<h4>Acceptance criteria</h4>
        <ul class="acceptance">${story.acceptance.map((c) => html`<li>${c}</li>`)}</ul>`
            : ''
        }
      </section>`,
        );
  const rows = ENDPOINTS.map(
    ([method, path, auth, what]) =>
      html`<tr><td><code>${method}</code></td><td><code>${basePath}/${path}</code></td><td>${auth}</td><td>${what}</td></tr>`,
  );
  return html`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="kiln-project" content="${kiln.project}">
  <title>${kiln.title}</title>
  <style>${new Html(STYLE)}</style>
</head>
<body>
  <header>
    <div class="wrap">
      <p class="eyebrow"><a href="./">${kiln.epic || kiln.project}</a></p>
      <h1>${kiln.title}</h1>
      <p class="brief">${kiln.brief}</p>
    </div>
  </header>
  <main class="wrap">
    <h2>What this app covers</h2>
    ${stories}
    <h2>API</h2>
    <p>JSON in and out. Send <code>Authorization: Bearer &lt;token&gt;</code> from
      <code>${basePath}/api/auth/login</code> where the table says so.</p>
    <table>
      <thead><tr><th>Method</th><th>Path</th><th>Token</th><th>What</th></tr></thead>
      <tbody>${rows}</tbody>
    </table>
  </main>
  <footer class="wrap"><p>Built by Kiln &middot; <span class="project">${kiln.project}</span></p></footer>
</body>
</html>
`.text;
}

module.exports = { escapeHtml, html, renderHome };
