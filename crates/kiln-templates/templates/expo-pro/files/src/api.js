// A small in-app stand-in for an authentication backend, so the sign-in flow works offline and
// in tests. Replace signIn() with a call to a real API when the app gets one; the rest of the
// app only depends on its contract: resolve { user, token } or reject with AuthError.

/** A sign-in the server refused; `message` is safe to show to the user. */
export class AuthError extends Error {
  constructor(message) {
    super(message);
    this.name = 'AuthError';
  }
}

/** The demo account the sign-in screen mentions. Not a secret: it only unlocks this demo. */
export const DEMO_USER = Object.freeze({
  email: 'demo@example.com',
  password: 'demo',
  name: 'Demo User',
});

let counter = 0;

/**
 * Creates the API. `users` lists accounts as { email, password, name }; `delay` (ms)
 * imitates a network round trip so the UI's loading state is visible.
 */
export function createApi({ users = [DEMO_USER], delay = 300 } = {}) {
  const wait = () => new Promise((resolve) => setTimeout(resolve, delay));
  return {
    async signIn(email, password) {
      const address = String(email ?? '').trim().toLowerCase();
      if (address === '' || !password) {
        throw new AuthError('Enter your email and password.');
      }
      if (delay > 0) await wait();
      const account = users.find((user) => user.email.toLowerCase() === address);
      // One message for both cases, so the form does not reveal which emails exist.
      if (!account || account.password !== password) {
        throw new AuthError('Email or password is incorrect.');
      }
      counter += 1;
      return {
        user: { email: account.email, name: account.name },
        token: `demo-token-${Date.now().toString(36)}-${counter}`,
      };
    },
  };
}
