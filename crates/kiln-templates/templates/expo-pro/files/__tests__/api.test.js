import { AuthError, DEMO_USER, createApi } from '../src/api';

const api = createApi({ delay: 0 });

test('the demo account signs in and gets a user and a token', async () => {
  const { user, token } = await api.signIn(DEMO_USER.email, DEMO_USER.password);
  expect(user).toEqual({ email: DEMO_USER.email, name: DEMO_USER.name });
  expect(typeof token).toBe('string');
  expect(token.length).toBeGreaterThan(0);
});

test('email matching ignores case and surrounding spaces, passwords do not', async () => {
  await expect(api.signIn(`  ${DEMO_USER.email.toUpperCase()} `, DEMO_USER.password)).resolves.toHaveProperty('user');
  await expect(api.signIn(DEMO_USER.email, DEMO_USER.password.toUpperCase())).rejects.toThrow(AuthError);
});

test('wrong password and unknown email get the same message', async () => {
  const wrong = api.signIn(DEMO_USER.email, 'nope').catch((e) => e);
  const unknown = api.signIn('someone@example.com', DEMO_USER.password).catch((e) => e);
  const [a, b] = await Promise.all([wrong, unknown]);
  expect(a).toBeInstanceOf(AuthError);
  expect(b).toBeInstanceOf(AuthError);
  expect(a.message).toBe(b.message);
});

test('empty fields are refused before any lookup', async () => {
  await expect(api.signIn('', 'x')).rejects.toThrow('Enter your email and password.');
  await expect(api.signIn(DEMO_USER.email, '')).rejects.toThrow('Enter your email and password.');
});

test('custom accounts replace the demo one', async () => {
  const custom = createApi({ delay: 0, users: [{ email: 'a@b.c', password: 'pw', name: 'A' }] });
  await expect(custom.signIn('a@b.c', 'pw')).resolves.toHaveProperty('user.name', 'A');
  await expect(custom.signIn(DEMO_USER.email, DEMO_USER.password)).rejects.toThrow(AuthError);
});
