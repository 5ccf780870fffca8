import { StyleSheet, useColorScheme } from 'react-native';

const palette = {
  light: { bg: '#f7f5f2', fg: '#1f2328', muted: '#5b6570', accent: '#c2410c', card: '#ffffff', border: '#e6e1da', danger: '#b42318' },
  dark: { bg: '#15171a', fg: '#e8e6e3', muted: '#9aa4ae', accent: '#fb923c', card: '#1d2024', border: '#2c3035', danger: '#f97066' },
};

/** Colours for the current light/dark setting. */
export function useColors() {
  return palette[useColorScheme() === 'dark' ? 'dark' : 'light'];
}

export const styles = StyleSheet.create({
  page: { padding: 20, gap: 12, maxWidth: 960, width: '100%', alignSelf: 'center' },
  eyebrow: { fontSize: 13, fontWeight: '600', letterSpacing: 1, textTransform: 'uppercase' },
  title: { fontSize: 30, fontWeight: '700' },
  brief: { fontSize: 17, lineHeight: 25 },
  heading: { fontSize: 20, fontWeight: '600', marginTop: 12 },
  input: { borderWidth: 1, borderRadius: 8, paddingHorizontal: 12, paddingVertical: 10, fontSize: 16 },
  button: { borderRadius: 8, paddingVertical: 12, paddingHorizontal: 16, alignItems: 'center' },
  buttonText: { color: '#ffffff', fontSize: 16, fontWeight: '600' },
  card: { borderWidth: 1, borderRadius: 12, padding: 16, gap: 6 },
  cardTitle: { fontSize: 17, fontWeight: '600' },
  text: { fontSize: 15, lineHeight: 22 },
});
