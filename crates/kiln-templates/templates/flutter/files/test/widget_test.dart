// Checks the app against kiln.json, so the tests follow the brief instead of hard-coding it.

import 'dart:io';

import 'package:flutter_test/flutter_test.dart';
import 'package:kiln_app/kiln.dart';
import 'package:kiln_app/main.dart';
import 'package:kiln_app/prerender.dart';

void main() {
  // `flutter test` runs with the package root as the working directory.
  final kiln = Kiln.parse(File('kiln.json').readAsStringSync());

  testWidgets('shows the title and every story of kiln.json', (tester) async {
    await tester.pumpWidget(KilnApp(kiln: kiln));

    // findsWidgets: the brief or a story may repeat the title word for word.
    expect(find.text(kiln.title), findsWidgets);
    if (kiln.brief.isNotEmpty) expect(find.text(kiln.brief), findsWidgets);
    expect(find.byType(StoryCard), findsNWidgets(kiln.stories.length));
    for (final story in kiln.stories) {
      expect(
        find.descendant(of: find.byType(StoryCard), matching: find.text(story.title)),
        findsWidgets,
        reason: 'story title missing: ${story.title}',
      );
    }
  });

  testWidgets('says so when there are no stories', (tester) async {
    await tester.pumpWidget(const KilnApp(kiln: Kiln(project: 'demo', title: 'Demo')));
    expect(find.text('No stories yet.'), findsOneWidget);
    expect(find.byType(StoryCard), findsNothing);
  });

  test('kiln.json is bundled as an asset', () async {
    TestWidgetsFlutterBinding.ensureInitialized();
    final bundled = await loadKiln();
    expect(bundled.project, kiln.project);
    expect(bundled.stories.length, kiln.stories.length);
  });

  test('the prerendered summary escapes user text and lists every story', () {
    const hostile = '<script>alert("x")</script>';
    const page = '<title>kiln:title</title><body><!-- kiln:summary --></body>';
    final html = injectSummary(
      page,
      const Kiln(project: 'demo', title: hostile, stories: [Story(title: hostile)]),
    );
    expect(html, isNot(contains('<script>')));
    expect(html, contains('&lt;script&gt;'));
    expect(html, contains('data-kiln-project="demo"'));
    expect('<li class="story">'.allMatches(html).length, 1);

    final real = injectSummary(page, kiln);
    expect('<li class="story">'.allMatches(real).length, kiln.stories.length);
  });

  test('a page without markers is refused', () {
    expect(() => injectSummary('<html></html>', kiln), throwsStateError);
  });
}
