// The whole app with real navigation: the sign-in flow guards the screens that show the brief.
// Uses the real in-app API without its artificial delay.
import { fireEvent, render, screen } from '@testing-library/react-native';
import App from '../src/App';
import { DEMO_USER, createApi } from '../src/api';
import { kiln } from '../src/kiln';

const api = createApi({ delay: 0 });

async function signIn(email, password) {
  await fireEvent.changeText(screen.getByLabelText('Email'), email);
  await fireEvent.changeText(screen.getByLabelText('Password'), password);
  await fireEvent.press(screen.getByRole('button', { name: 'Sign in' }));
}

test('signed-out users see only the sign-in screen', async () => {
  await render(<App api={api} />);
  expect(screen.getByLabelText('Email')).toBeTruthy();
  expect(screen.queryByText(`Built by Kiln · ${kiln.project}`)).toBeNull();
  expect(screen.queryByRole('button', { name: 'Sign out' })).toBeNull();
});

test('a wrong password shows an error and keeps the protected screens closed', async () => {
  await render(<App api={api} />);
  await signIn(DEMO_USER.email, 'wrong');
  expect((await screen.findByRole('alert')).props.children).toBe('Email or password is incorrect.');
  expect(screen.queryByRole('button', { name: 'Sign out' })).toBeNull();
});

test('signing in opens the home screen with the brief and every story', async () => {
  await render(<App api={api} />);
  await signIn(DEMO_USER.email, DEMO_USER.password);
  expect(await screen.findByText(`Signed in as ${DEMO_USER.name}`)).toBeTruthy();
  expect(screen.getByRole('heading', { name: kiln.title })).toBeTruthy();
  expect(screen.getByText(`Built by Kiln · ${kiln.project}`)).toBeTruthy();
  for (const story of kiln.stories) {
    expect(screen.getByRole('button', { name: story.title })).toBeTruthy();
  }
});

test('a story opens with its acceptance criteria', async () => {
  const story = kiln.stories.find((s) => s.acceptance.length > 0) ?? kiln.stories[0];
  if (!story) return; // A brief without stories has no story screen to open.
  await render(<App api={api} />);
  await signIn(DEMO_USER.email, DEMO_USER.password);
  await fireEvent.press(await screen.findByRole('button', { name: story.title }));
  for (const criterion of story.acceptance) {
    expect(await screen.findByText(`\u2022 ${criterion}`)).toBeTruthy();
  }
  expect(screen.getAllByText(story.title).length).toBeGreaterThan(0);
});

test('signing out returns to the sign-in screen', async () => {
  await render(<App api={api} />);
  await signIn(DEMO_USER.email, DEMO_USER.password);
  await fireEvent.press(await screen.findByRole('button', { name: 'Sign out' }));
  expect(await screen.findByLabelText('Email')).toBeTruthy();
  expect(screen.queryByText(`Signed in as ${DEMO_USER.name}`)).toBeNull();
});
