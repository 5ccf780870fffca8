import { kiln, matchesStory, normaliseKiln } from '../src/kiln';

test('kiln.json is loaded with every field present', () => {
  expect(kiln.project).toMatch(/^[a-z][a-z0-9-]*$/);
  expect(kiln.title.length).toBeGreaterThan(0);
  for (const story of kiln.stories) {
    expect(typeof story.title).toBe('string');
    expect(Array.isArray(story.acceptance)).toBe(true);
  }
});

test('normaliseKiln fills missing and mistyped fields', () => {
  expect(normaliseKiln(null)).toEqual({ project: '', title: 'Untitled', brief: '', epic: '', stories: [] });
  expect(normaliseKiln({ project: 'p', stories: [{ acceptance: 'x' }] })).toEqual({
    project: 'p',
    title: 'p',
    brief: '',
    epic: '',
    stories: [{ title: '', description: '', acceptance: [] }],
  });
});

test('matchesStory searches title, description and criteria, ignoring case', () => {
  const story = { title: 'Track order', description: 'Live map', acceptance: ['Shows ETA'] };
  expect(matchesStory(story, 'MAP')).toBe(true);
  expect(matchesStory(story, 'eta')).toBe(true);
  expect(matchesStory(story, '   ')).toBe(true);
  expect(matchesStory(story, 'refund')).toBe(false);
});
