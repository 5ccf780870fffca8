// Pure helpers for scripts/postexport.js, kept apart so tests can call them.

/** Escapes text for HTML element content and double-quoted attribute values. */
function escapeHtml(text) {
  return String(text)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/**
 * A plain-HTML summary of the brief, shown until React Native Web mounts (and to anything
 * that does not run JavaScript). Every value is user text, so every value is escaped.
 */
function summaryHtml(kiln) {
  const stories = kiln.stories
    .map((story) => `<li><h3>${escapeHtml(story.title)}</h3></li>`)
    .join('');
  return (
    `<main class="kiln-summary"><p>${escapeHtml(kiln.epic || kiln.project)}</p>` +
    `<h1>${escapeHtml(kiln.title)}</h1><p>${escapeHtml(kiln.brief)}</p>` +
    (stories ? `<ul>${stories}</ul>` : '<p>No stories yet.</p>') +
    `<p>Built by Kiln &middot; <span class="project">${escapeHtml(kiln.project)}</span></p></main>`
  );
}

const ROOT = /<div id="root">\s*<\/div>/;
const TITLE = /<title>[\s\S]*?<\/title>/;

/**
 * Rewrites Expo's exported index.html: an escaped <title> (Expo copies the app name in as
 * is), a kiln-project meta tag, and the summary inside the empty #root element.
 * Throws when the page has no empty #root or no <title>, naming which.
 */
function injectSummary(html, kiln) {
  if (!ROOT.test(html)) throw new Error('exported index.html has no empty <div id="root"></div>');
  if (!TITLE.test(html)) throw new Error('exported index.html has no <title>');
  const head =
    `<title>${escapeHtml(kiln.title)}</title>` +
    `<meta name="kiln-project" content="${escapeHtml(kiln.project)}">`;
  // Replacement functions, so `$&` and friends in user text stay literal.
  return html
    .replace(TITLE, () => head)
    .replace(ROOT, () => `<div id="root">${summaryHtml(kiln)}</div>`);
}

module.exports = { escapeHtml, injectSummary, summaryHtml };
