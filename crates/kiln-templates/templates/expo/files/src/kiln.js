// The brief and stories Kiln wrote to kiln.json, normalised so components can rely on every
// field being present. Metro bundles the JSON into the app.
import data from '../kiln.json';

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

/** True when the story's title, description or a criterion contains `query` (any case). */
export function matchesStory(story, query) {
  const needle = query.trim().toLowerCase();
  if (needle === '') return true;
  return [story.title, story.description, ...story.acceptance].some((value) =>
    value.toLowerCase().includes(needle),
  );
}

export const kiln = normaliseKiln(data);
