// The brief and stories Kiln wrote to kiln.json. Plain Node (no JSX) so node:test can test it
// directly; server components call loadKiln() while rendering.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const text = (value) => (typeof value === 'string' ? value : '');

/** Returns kiln.json-shaped data with missing or mistyped fields replaced by empty ones. */
export function normaliseKiln(raw) {
  const value = raw && typeof raw === 'object' ? raw : {};
  const stories = Array.isArray(value.stories) ? value.stories : [];
  return {
    project: text(value.project),
    title: text(value.title) || text(value.project) || 'Untitled',
    brief: text(value.brief),
    epic: text(value.epic),
    stories: stories.map((story) => ({
      title: text(story && story.title),
      description: text(story && story.description),
      acceptance: Array.isArray(story && story.acceptance) ? story.acceptance.map(text) : [],
    })),
  };
}

/** Parses kiln.json text; throws a SyntaxError naming the problem when it is not JSON. */
export function parseKiln(text) {
  return normaliseKiln(JSON.parse(text));
}

/**
 * Reads kiln.json from the project root (Next runs with the project root as cwd). The path
 * is fixed on purpose: a computed one makes Next trace the whole project into the build.
 */
export function loadKiln() {
  return parseKiln(readFileSync(join(process.cwd(), 'kiln.json'), 'utf8'));
}
