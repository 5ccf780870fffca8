import { ScrollView, Text } from 'react-native';
import { kiln } from '../kiln';
import { styles, useColors } from '../theme';

/** Protected: one story with its acceptance criteria. `route.params.index` picks the story. */
export default function StoryScreen({ route }) {
  const colors = useColors();
  const story = kiln.stories[route.params?.index];
  if (!story) {
    return <Text style={[styles.page, { color: colors.fg }]}>This story no longer exists.</Text>;
  }

  return (
    <ScrollView style={{ backgroundColor: colors.bg }} contentContainerStyle={styles.page}>
      <Text role="heading" aria-level={1} style={[styles.title, { color: colors.fg }]}>
        {story.title}
      </Text>
      {story.description ? (
        <Text style={[styles.brief, { color: colors.muted }]}>{story.description}</Text>
      ) : null}
      {story.acceptance.length > 0 ? (
        <>
          <Text role="heading" aria-level={2} style={[styles.heading, { color: colors.fg }]}>
            Acceptance criteria
          </Text>
          {story.acceptance.map((criterion, i) => (
            <Text key={i} style={[styles.text, { color: colors.fg }]}>
              {'\u2022 '}
              {criterion}
            </Text>
          ))}
        </>
      ) : null}
    </ScrollView>
  );
}
