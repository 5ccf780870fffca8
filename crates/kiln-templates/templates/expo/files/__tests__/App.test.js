// Renders the real App with the real kiln.json, so these tests follow the brief.
// Testing Library 14 renders and fires events asynchronously, hence the awaits.
import { fireEvent, render, screen } from '@testing-library/react-native';
import App from '../src/App';
import { kiln, normaliseKiln } from '../src/kiln';

test('shows the title, brief and project from kiln.json', async () => {
  await render(<App kiln={kiln} />);
  expect(screen.getByRole('heading', { name: kiln.title })).toBeTruthy();
  if (kiln.brief) expect(screen.getByText(kiln.brief)).toBeTruthy();
  expect(screen.getByText(`Built by Kiln · ${kiln.project}`)).toBeTruthy();
});

test('shows every story title and acceptance criterion', async () => {
  await render(<App kiln={kiln} />);
  for (const story of kiln.stories) {
    expect(screen.getAllByRole('heading', { name: story.title }).length).toBeGreaterThan(0);
    for (const criterion of story.acceptance) {
      expect(screen.getAllByText(`\u2022 ${criterion}`).length).toBeGreaterThan(0);
    }
  }
});

test('filtering narrows the stories and says when nothing matches', async () => {
  const stories = [
    { title: 'Browse the menu', acceptance: ['Lists pizzas'] },
    { title: 'Pay', description: 'Card payments' },
  ];
  await render(<App kiln={normaliseKiln({ project: 'demo', stories })} />);
  const input = screen.getByLabelText('Filter stories');

  await fireEvent.changeText(input, 'PIZZAS');
  expect(screen.getByRole('heading', { name: 'Browse the menu' })).toBeTruthy();
  expect(screen.queryByRole('heading', { name: 'Pay' })).toBeNull();

  await fireEvent.changeText(input, 'refund');
  expect(screen.getByText('No story matches “refund”.')).toBeTruthy();

  await fireEvent.changeText(input, '');
  expect(screen.getByRole('heading', { name: 'Pay' })).toBeTruthy();
});

test('a brief without stories says so and offers no filter', async () => {
  await render(<App kiln={normaliseKiln({ project: 'demo', title: 'Demo' })} />);
  expect(screen.getByText('No stories yet.')).toBeTruthy();
  expect(screen.queryByLabelText('Filter stories')).toBeNull();
});
