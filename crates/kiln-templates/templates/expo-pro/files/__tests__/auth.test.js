import { act, render, screen } from '@testing-library/react-native';
import { Text } from 'react-native';
import { AuthError } from '../src/api';
import { AuthProvider, authReducer, initialAuthState, useAuth } from '../src/auth';

const user = { email: 'a@b.c', name: 'A' };

describe('authReducer', () => {
  test('start, success and sign-out walk signedOut -> signingIn -> signedIn -> signedOut', () => {
    let state = authReducer(initialAuthState, { type: 'signIn/start' });
    expect(state).toEqual({ status: 'signingIn', user: null, token: null, error: null });
    state = authReducer(state, { type: 'signIn/success', user, token: 't' });
    expect(state).toEqual({ status: 'signedIn', user, token: 't', error: null });
    expect(authReducer(state, { type: 'signOut' })).toEqual(initialAuthState);
  });

  test('failure returns to signedOut with the error, and a new attempt clears it', () => {
    let state = authReducer(initialAuthState, { type: 'signIn/start' });
    state = authReducer(state, { type: 'signIn/failure', error: 'bad' });
    expect(state).toEqual({ ...initialAuthState, error: 'bad' });
    expect(authReducer(state, { type: 'signIn/start' }).error).toBeNull();
  });

  test('results that arrive when no sign-in is under way are ignored', () => {
    expect(authReducer(initialAuthState, { type: 'signIn/success', user, token: 't' })).toBe(initialAuthState);
    expect(authReducer(initialAuthState, { type: 'signIn/failure', error: 'x' })).toBe(initialAuthState);
    const signingIn = authReducer(initialAuthState, { type: 'signIn/start' });
    expect(authReducer(signingIn, { type: 'signIn/start' })).toBe(signingIn);
  });

  test('unknown actions are a programming error', () => {
    expect(() => authReducer(initialAuthState, { type: 'nope' })).toThrow('unknown auth action');
  });
});

/** Shows the auth state and exposes its actions to the test. */
function Probe({ onAuth }) {
  const auth = useAuth();
  onAuth(auth);
  return <Text>{`${auth.status}|${auth.user ? auth.user.name : ''}|${auth.error ?? ''}`}</Text>;
}

/** An API whose answer the test decides, to observe the in-between state. */
function controllableApi() {
  const pending = [];
  return {
    pending,
    signIn: () => new Promise((resolve, reject) => pending.push({ resolve, reject })),
  };
}

describe('AuthProvider', () => {
  test('signIn shows signingIn while the API works, then signedIn; signOut ends it', async () => {
    const api = controllableApi();
    let auth;
    await render(<AuthProvider api={api}><Probe onAuth={(a) => { auth = a; }} /></AuthProvider>);
    expect(screen.getByText('signedOut||')).toBeTruthy();

    let done;
    await act(async () => { done = auth.signIn('a@b.c', 'pw'); });
    expect(screen.getByText('signingIn||')).toBeTruthy();

    await act(async () => { api.pending[0].resolve({ user, token: 't' }); await done; });
    expect(screen.getByText('signedIn|A|')).toBeTruthy();
    expect(auth.token).toBe('t');

    await act(async () => auth.signOut());
    expect(screen.getByText('signedOut||')).toBeTruthy();
  });

  test('an AuthError message is shown; any other failure gets a generic one', async () => {
    const api = controllableApi();
    let auth;
    await render(<AuthProvider api={api}><Probe onAuth={(a) => { auth = a; }} /></AuthProvider>);

    await act(async () => {
      const done = auth.signIn('a@b.c', 'pw');
      api.pending[0].reject(new AuthError('Email or password is incorrect.'));
      await done;
    });
    expect(screen.getByText('signedOut||Email or password is incorrect.')).toBeTruthy();

    const consoleError = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await act(async () => {
        const done = auth.signIn('a@b.c', 'pw');
        api.pending[1].reject(new TypeError('network down'));
        await done;
      });
    } finally {
      consoleError.mockRestore();
    }
    expect(screen.getByText('signedOut||Sign-in failed. Try again.')).toBeTruthy();
  });

  test('useAuth outside the provider fails loudly', async () => {
    const consoleError = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      await expect(render(<Probe onAuth={() => {}} />)).rejects.toThrow('inside <AuthProvider>');
    } finally {
      consoleError.mockRestore();
    }
  });
});
