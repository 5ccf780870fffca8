// Authentication state: a pure reducer (easy to test exhaustively) plus a React context that
// connects it to the API and to the screens.
import { createContext, createElement, useCallback, useContext, useMemo, useReducer } from 'react';
import { AuthError } from './api';

export const initialAuthState = Object.freeze({
  status: 'signedOut', // 'signedOut' | 'signingIn' | 'signedIn'
  user: null,
  token: null,
  error: null,
});

/**
 * Next auth state. Actions arriving in the wrong state are ignored rather than trusted, e.g.
 * a late sign-in success after the user already signed out.
 */
export function authReducer(state, action) {
  switch (action.type) {
    case 'signIn/start':
      if (state.status === 'signingIn') return state;
      return { ...initialAuthState, status: 'signingIn' };
    case 'signIn/success':
      if (state.status !== 'signingIn') return state;
      return { status: 'signedIn', user: action.user, token: action.token, error: null };
    case 'signIn/failure':
      if (state.status !== 'signingIn') return state;
      return { ...initialAuthState, error: action.error };
    case 'signOut':
      return initialAuthState;
    default:
      throw new Error(`unknown auth action ${JSON.stringify(action.type)}`);
  }
}

const AuthContext = createContext(null);

/** Provides auth state and actions to everything below it. `api` is from createApi(). */
export function AuthProvider({ api, children }) {
  const [state, dispatch] = useReducer(authReducer, initialAuthState);

  const signIn = useCallback(
    async (email, password) => {
      dispatch({ type: 'signIn/start' });
      try {
        const { user, token } = await api.signIn(email, password);
        dispatch({ type: 'signIn/success', user, token });
      } catch (error) {
        // Only the API's own refusals are meant for users; anything else is a bug.
        const message = error instanceof AuthError ? error.message : 'Sign-in failed. Try again.';
        if (!(error instanceof AuthError)) console.error('sign-in failed', error);
        dispatch({ type: 'signIn/failure', error: message });
      }
    },
    [api],
  );
  const signOut = useCallback(() => dispatch({ type: 'signOut' }), []);

  const value = useMemo(() => ({ ...state, signIn, signOut }), [state, signIn, signOut]);
  return createElement(AuthContext.Provider, { value }, children);
}

/** The auth state and actions; only inside an AuthProvider. */
export function useAuth() {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth() must be used inside <AuthProvider>');
  return value;
}
