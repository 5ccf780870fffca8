import { useState } from 'react';
import { ScrollView, StyleSheet, Text, TextInput, View, useColorScheme } from 'react-native';
import { StatusBar } from 'expo-status-bar';
import { kiln as defaultKiln, matchesStory } from './kiln';

const palette = {
  light: { bg: '#f7f5f2', fg: '#1f2328', muted: '#5b6570', accent: '#c2410c', card: '#ffffff', border: '#e6e1da' },
  dark: { bg: '#15171a', fg: '#e8e6e3', muted: '#9aa4ae', accent: '#fb923c', card: '#1d2024', border: '#2c3035' },
};

function Story({ story, colors }) {
  return (
    <View style={[styles.card, { backgroundColor: colors.card, borderColor: colors.border }]}>
      <Text role="heading" aria-level={3} style={[styles.storyTitle, { color: colors.fg }]}>
        {story.title}
      </Text>
      {story.description ? (
        <Text style={[styles.text, { color: colors.muted }]}>{story.description}</Text>
      ) : null}
      {story.acceptance.map((criterion, i) => (
        <Text key={i} style={[styles.text, { color: colors.fg }]}>
          {'\u2022 '}
          {criterion}
        </Text>
      ))}
    </View>
  );
}

/** The whole app. `kiln` is a prop so tests can render any brief. */
export default function App({ kiln = defaultKiln }) {
  const colors = palette[useColorScheme() === 'dark' ? 'dark' : 'light'];
  const [query, setQuery] = useState('');
  const shown = kiln.stories.filter((story) => matchesStory(story, query));

  return (
    <ScrollView style={{ backgroundColor: colors.bg }} contentContainerStyle={styles.page}>
      <StatusBar style="auto" />
      <Text style={[styles.eyebrow, { color: colors.accent }]}>{kiln.epic || kiln.project}</Text>
      <Text role="heading" aria-level={1} style={[styles.title, { color: colors.fg }]}>
        {kiln.title}
      </Text>
      {kiln.brief ? <Text style={[styles.brief, { color: colors.muted }]}>{kiln.brief}</Text> : null}

      <Text role="heading" aria-level={2} style={[styles.heading, { color: colors.fg }]}>
        What this app covers
      </Text>
      {kiln.stories.length === 0 ? (
        <Text style={{ color: colors.muted }}>No stories yet.</Text>
      ) : (
        <>
          <TextInput
            accessibilityLabel="Filter stories"
            placeholder="Filter stories"
            placeholderTextColor={colors.muted}
            value={query}
            onChangeText={setQuery}
            style={[styles.input, { color: colors.fg, borderColor: colors.border, backgroundColor: colors.card }]}
          />
          {shown.length === 0 ? (
            <Text style={{ color: colors.muted }}>No story matches “{query}”.</Text>
          ) : (
            shown.map((story, i) => <Story key={i} story={story} colors={colors} />)
          )}
        </>
      )}
      <Text style={[styles.footer, { color: colors.muted }]}>Built by Kiln · {kiln.project}</Text>
    </ScrollView>
  );
}

const styles = StyleSheet.create({
  page: { padding: 20, paddingTop: 56, gap: 12, maxWidth: 960, width: '100%', alignSelf: 'center' },
  eyebrow: { fontSize: 13, fontWeight: '600', letterSpacing: 1, textTransform: 'uppercase' },
  title: { fontSize: 34, fontWeight: '700' },
  brief: { fontSize: 18, lineHeight: 26 },
  heading: { fontSize: 20, fontWeight: '600', marginTop: 16 },
  input: { borderWidth: 1, borderRadius: 8, paddingHorizontal: 12, paddingVertical: 8, fontSize: 16 },
  card: { borderWidth: 1, borderRadius: 12, padding: 16, gap: 6 },
  storyTitle: { fontSize: 17, fontWeight: '600' },
  text: { fontSize: 15, lineHeight: 22 },
  footer: { marginTop: 24, fontSize: 14 },
});
