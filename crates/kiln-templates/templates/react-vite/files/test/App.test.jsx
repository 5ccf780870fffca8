// Renders the real App with the real kiln.json, so these tests follow the brief instead of
// hard-coding it.
import { afterEach, expect, test } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import App, { matchesStory } from '../src/App.jsx';
import { kiln, normaliseKiln } from '../src/kiln.js';

afterEach(cleanup);

test('shows the title, brief and project from kiln.json', () => {
  const { container } = render(<App kiln={kiln} />);
  expect(screen.getByRole('heading', { level: 1 }).textContent).toBe(kiln.title);
  expect(container.querySelector('.brief').textContent).toBe(kiln.brief);
  expect(container.querySelector('.project').textContent).toBe(kiln.project);
});

test('shows every story with its description and acceptance criteria', () => {
  const { container } = render(<App kiln={kiln} />);
  const sections = container.querySelectorAll('section.story');
  expect(sections).toHaveLength(kiln.stories.length);
  kiln.stories.forEach((story, i) => {
    const section = within(sections[i]);
    expect(section.getByRole('heading', { level: 3 }).textContent).toBe(story.title);
    if (story.description) {
      expect(sections[i].querySelector('p').textContent).toBe(story.description);
    }
    const items = sections[i].querySelectorAll('.acceptance li');
    expect([...items].map((li) => li.textContent)).toEqual(story.acceptance);
  });
});

test('filtering narrows the stories and says when nothing matches', () => {
  const stories = [
    { title: 'Browse the menu', description: '', acceptance: ['Lists pizzas'] },
    { title: 'Pay', description: 'Card payments', acceptance: [] },
  ];
  const { container } = render(<App kiln={normaliseKiln({ project: 'demo', stories })} />);
  const input = screen.getByRole('searchbox');

  fireEvent.change(input, { target: { value: 'PIZZAS' } });
  const titles = () => [...container.querySelectorAll('section.story h3')].map((h) => h.textContent);
  expect(titles()).toEqual(['Browse the menu']);

  fireEvent.change(input, { target: { value: 'no such thing' } });
  expect(titles()).toEqual([]);
  expect(screen.getByText(/No story matches/).textContent).toContain('no such thing');

  fireEvent.change(input, { target: { value: '' } });
  expect(titles()).toEqual(['Browse the menu', 'Pay']);
});

test('a brief without stories says so', () => {
  render(<App kiln={normaliseKiln({ project: 'demo', title: 'Demo' })} />);
  expect(screen.getByText('No stories yet.')).toBeTruthy();
  expect(screen.queryByRole('searchbox')).toBeNull();
});

test('user text is shown as text, never as markup', () => {
  const hostile = '<img src=x onerror=alert(1)>';
  const { container } = render(
    <App kiln={normaliseKiln({ project: 'demo', title: hostile, stories: [{ title: hostile }] })} />,
  );
  expect(container.querySelector('img')).toBeNull();
  expect(screen.getByRole('heading', { level: 1 }).textContent).toBe(hostile);
});

test('normaliseKiln fills missing fields and matchesStory ignores case', () => {
  expect(normaliseKiln(null)).toEqual({
    project: '', title: 'Untitled', brief: '', epic: '', stories: [],
  });
  expect(normaliseKiln({ project: 'p', stories: [{ acceptance: 'nope' }] }).stories).toEqual([
    { title: '', description: '', acceptance: [] },
  ]);
  const story = { title: 'Track Order', description: '', acceptance: ['Shows ETA'] };
  expect(matchesStory(story, 'eta')).toBe(true);
  expect(matchesStory(story, '  ')).toBe(true);
  expect(matchesStory(story, 'refund')).toBe(false);
});
