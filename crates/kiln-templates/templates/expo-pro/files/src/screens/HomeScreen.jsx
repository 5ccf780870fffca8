import { Pressable, ScrollView, Text } from 'react-native';
import { useAuth } from '../auth';
import { kiln } from '../kiln';
import { styles, useColors } from '../theme';

/** Protected: only registered in the navigator while signed in. */
export default function HomeScreen({ navigation }) {
  const colors = useColors();
  const { user, signOut } = useAuth();

  return (
    <ScrollView style={{ backgroundColor: colors.bg }} contentContainerStyle={styles.page}>
      <Text style={[styles.eyebrow, { color: colors.accent }]}>{kiln.epic || kiln.project}</Text>
      <Text role="heading" aria-level={1} style={[styles.title, { color: colors.fg }]}>
        {kiln.title}
      </Text>
      {kiln.brief ? <Text style={[styles.brief, { color: colors.muted }]}>{kiln.brief}</Text> : null}
      <Text style={[styles.text, { color: colors.muted }]}>Signed in as {user.name}</Text>

      <Text role="heading" aria-level={2} style={[styles.heading, { color: colors.fg }]}>
        What this app covers
      </Text>
      {kiln.stories.length === 0 ? (
        <Text style={{ color: colors.muted }}>No stories yet.</Text>
      ) : (
        kiln.stories.map((story, index) => (
          <Pressable
            key={index}
            role="button"
            aria-label={story.title}
            onPress={() => navigation.navigate('Story', { index })}
            style={[styles.card, { backgroundColor: colors.card, borderColor: colors.border }]}
          >
            <Text style={[styles.cardTitle, { color: colors.fg }]}>{story.title}</Text>
            {story.description ? (
              <Text style={[styles.text, { color: colors.muted }]}>{story.description}</Text>
            ) : null}
          </Pressable>
        ))
      )}

      <Pressable
        role="button"
        aria-label="Sign out"
        onPress={signOut}
        style={[styles.button, { borderWidth: 1, borderColor: colors.border }]}
      >
        <Text style={{ color: colors.fg, fontSize: 16 }}>Sign out</Text>
      </Pressable>
      <Text style={[styles.text, { color: colors.muted }]}>Built by Kiln · {kiln.project}</Text>
    </ScrollView>
  );
}
