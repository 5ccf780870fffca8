// Turns kiln.json data into the app's HTML. Shared by the Electron renderer (at runtime) and
// scripts/build.js (at build time), and free of DOM and Node APIs so tests run it directly.

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text) {
  return String(text)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function renderStory(story, index) {
  const parts = [`<section class="story" id="story-${index + 1}">`, `<h3>${escapeHtml(story.title)}</h3>`];
  if (story.description) parts.push(`<p>${escapeHtml(story.description)}</p>`);
  if (story.acceptance.length > 0) {
    parts.push('<h4>Acceptance criteria</h4>', '<ul class="acceptance">');
    for (const criterion of story.acceptance) parts.push(`<li>${escapeHtml(criterion)}</li>`);
    parts.push('</ul>');
  }
  parts.push('</section>');
  return parts.join('');
}

/**
 * The whole app as HTML. Every piece of kiln data goes through escapeHtml: the brief and
 * stories are user text and must never become markup.
 */
export function renderApp(kiln) {
  const stories =
    kiln.stories.length === 0
      ? '<p class="empty">No stories yet.</p>'
      : `<div class="stories">\n${kiln.stories.map(renderStory).join('\n')}\n</div>`;
  return [
    '<header class="hero"><div class="wrap">',
    `<p class="eyebrow">${escapeHtml(kiln.epic || kiln.project)}</p>`,
    `<h1>${escapeHtml(kiln.title)}</h1>`,
    `<p class="brief">${escapeHtml(kiln.brief)}</p>`,
    '</div></header>',
    '<main class="wrap">',
    '<h2 class="stories-heading">What this app covers</h2>',
    stories,
    '</main>',
    '<footer class="wrap">',
    `<p>Built by Kiln &middot; <span class="project">${escapeHtml(kiln.project)}</span></p>`,
    '</footer>',
  ].join('\n');
}

export const HEAD_MARKER = '<!--kiln-head-->';
export const APP_MARKER = '<!--kiln-app-->';

/**
 * Fills index.html's markers with the title, the project meta tag and the rendered app.
 * Throws when a marker is missing: shipping an empty shell would only fail much later.
 */
export function injectPage(template, kiln) {
  for (const marker of [HEAD_MARKER, APP_MARKER]) {
    if (!template.includes(marker)) {
      throw new Error(`index.html lacks the ${marker} marker the build replaces`);
    }
  }
  const head =
    `<title>${escapeHtml(kiln.title)}</title>\n` +
    `  <meta name="kiln-project" content="${escapeHtml(kiln.project)}">`;
  // Replacement functions, so `$&` and friends in user text stay literal.
  return template.replace(HEAD_MARKER, () => head).replace(APP_MARKER, () => renderApp(kiln));
}
