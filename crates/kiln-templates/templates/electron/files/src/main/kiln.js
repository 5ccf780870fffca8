// The brief and stories Kiln wrote to kiln.json, read by the main process and by the build.
import { readFileSync } from 'node:fs';

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

/** Reads and normalises the kiln.json at `file`. */
export function loadKiln(file) {
  return normaliseKiln(JSON.parse(readFileSync(file, 'utf8')));
}
