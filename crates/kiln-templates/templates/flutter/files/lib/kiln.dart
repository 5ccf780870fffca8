// The brief and stories Kiln wrote to kiln.json. Pure Dart (no Flutter imports) so the
// build-time prerender in tool/ can use it too.

import 'dart:convert';

String _text(Object? value) => value is String ? value : '';

List<Object?> _list(Object? value) => value is List ? value : const [];

class Story {
  const Story({required this.title, this.description = '', this.acceptance = const []});

  factory Story.fromJson(Object? json) {
    final map = json is Map ? json : const {};
    return Story(
      title: _text(map['title']),
      description: _text(map['description']),
      acceptance: _list(map['acceptance']).map(_text).toList(),
    );
  }

  final String title;
  final String description;
  final List<String> acceptance;
}

class Kiln {
  const Kiln({
    required this.project,
    required this.title,
    this.brief = '',
    this.epic = '',
    this.stories = const [],
  });

  /// Tolerates missing or mistyped fields rather than refusing to start.
  factory Kiln.fromJson(Object? json) {
    final map = json is Map ? json : const {};
    final project = _text(map['project']);
    final title = _text(map['title']);
    return Kiln(
      project: project,
      title: title.isNotEmpty ? title : (project.isNotEmpty ? project : 'Untitled'),
      brief: _text(map['brief']),
      epic: _text(map['epic']),
      stories: _list(map['stories']).map(Story.fromJson).toList(),
    );
  }

  factory Kiln.parse(String text) => Kiln.fromJson(jsonDecode(text));

  final String project;
  final String title;
  final String brief;
  final String epic;
  final List<Story> stories;
}
