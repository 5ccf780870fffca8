import { useMemo } from 'react';
import { SafeAreaProvider } from 'react-native-safe-area-context';
import { StatusBar } from 'expo-status-bar';
import { createApi } from './api';
import { AuthProvider } from './auth';
import Navigation from './Navigation';

/** The app. `api` is a prop so tests can use a fast or failing one. */
export default function App({ api }) {
  const defaultApi = useMemo(() => createApi(), []);
  return (
    <SafeAreaProvider>
      <AuthProvider api={api ?? defaultApi}>
        <StatusBar style="auto" />
        <Navigation />
      </AuthProvider>
    </SafeAreaProvider>
  );
}
