// The app reads kiln.json (a declared asset) at runtime: user text is data shown by Text
// widgets, never code, so it cannot break or inject into the app.

import 'package:flutter/material.dart';
import 'package:flutter/services.dart';

import 'kiln.dart';

Future<Kiln> loadKiln([AssetBundle? bundle]) async =>
    Kiln.parse(await (bundle ?? rootBundle).loadString('kiln.json'));

Future<void> main() async {
  WidgetsFlutterBinding.ensureInitialized();
  runApp(KilnApp(kiln: await loadKiln()));
}

class KilnApp extends StatelessWidget {
  const KilnApp({super.key, required this.kiln});

  final Kiln kiln;

  @override
  Widget build(BuildContext context) {
    return MaterialApp(
      title: kiln.title,
      debugShowCheckedModeBanner: false,
      theme: ThemeData(colorSchemeSeed: const Color(0xFFC2410C), useMaterial3: true),
      home: HomePage(kiln: kiln),
    );
  }
}

class HomePage extends StatelessWidget {
  const HomePage({super.key, required this.kiln});

  final Kiln kiln;

  @override
  Widget build(BuildContext context) {
    final text = Theme.of(context).textTheme;
    return Scaffold(
      // A Column, not a lazy ListView, so every story is built (and findable in tests).
      body: SingleChildScrollView(
        padding: const EdgeInsets.all(24),
        child: Column(
          crossAxisAlignment: CrossAxisAlignment.start,
          children: [
            Text(kiln.epic.isNotEmpty ? kiln.epic : kiln.project, style: text.labelLarge),
            const SizedBox(height: 8),
            Text(kiln.title, style: text.headlineLarge),
            const SizedBox(height: 12),
            if (kiln.brief.isNotEmpty) Text(kiln.brief, style: text.bodyLarge),
            const SizedBox(height: 32),
            Text('What this app covers', style: text.titleLarge),
            const SizedBox(height: 12),
            if (kiln.stories.isEmpty) const Text('No stories yet.'),
            for (final story in kiln.stories) StoryCard(story: story),
          ],
        ),
      ),
    );
  }
}

class StoryCard extends StatelessWidget {
  const StoryCard({super.key, required this.story});

  final Story story;

  @override
  Widget build(BuildContext context) {
    final text = Theme.of(context).textTheme;
    return Card(
      margin: const EdgeInsets.only(bottom: 12),
      child: Padding(
        padding: const EdgeInsets.all(16),
        child: Column(
          crossAxisAlignment: CrossAxisAlignment.start,
          children: [
            Text(story.title, style: text.titleMedium),
            if (story.description.isNotEmpty) ...[
              const SizedBox(height: 6),
              Text(story.description),
            ],
            for (final criterion in story.acceptance) Text('• $criterion'),
          ],
        ),
      ),
    );
  }
}
