// Pure helpers for the build-time prerender, kept apart from the script so tests can call them.

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(text) {
  return String(text)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

export const HEAD_MARKER = '<!--kiln-head-->';
export const APP_MARKER = '<!--kiln-app-->';

/**
 * Puts the title, the project meta tag and the rendered app into Vite's built index.html.
 * `appHtml` is React's output and already escaped; `title` and `project` are raw text.
 * Throws when a marker is missing, because silently shipping an empty shell would fail
 * deploy verification far from the cause.
 */
export function injectPrerender(template, { appHtml, title, project }) {
  for (const marker of [HEAD_MARKER, APP_MARKER]) {
    if (!template.includes(marker)) {
      throw new Error(`index.html lacks the ${marker} marker the prerender replaces`);
    }
  }
  const head =
    `<title>${escapeHtml(title)}</title>\n` +
    `  <meta name="kiln-project" content="${escapeHtml(project)}">`;
  // Functions as replacements, so `$&` and friends in user text are not interpreted.
  return template.replace(HEAD_MARKER, () => head).replace(APP_MARKER, () => appHtml);
}
