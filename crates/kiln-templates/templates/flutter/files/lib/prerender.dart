// Server-side HTML for the built index.html: Kiln checks the deployed page for the project
// and story titles, and a Flutter page is otherwise an empty shell until its script runs.

import 'dart:convert';

import 'kiln.dart';

/// Escapes &, <, >, " and ', so user text is safe in text and double- or single-quoted
/// attribute values. `/` is left alone (the default mode escapes it) so titles stay legible.
const HtmlEscape _escape = HtmlEscape(
  HtmlEscapeMode(escapeLtGt: true, escapeQuot: true, escapeApos: true),
);

/// Marker in web/index.html that the summary replaces.
const String summaryMarker = '<!-- kiln:summary -->';

/// Marker in web/index.html that the escaped title replaces.
const String titleMarker = 'kiln:title';

/// The summary shown until the Flutter app starts (web/flutter_bootstrap.js removes it).
String renderSummary(Kiln kiln) {
  final e = _escape.convert;
  final out = StringBuffer()
    ..writeln('<main id="kiln-summary" data-kiln-project="${e(kiln.project)}">')
    ..writeln('  <h1>${e(kiln.title)}</h1>')
    ..writeln('  <p class="brief">${e(kiln.brief)}</p>')
    ..writeln('  <ul class="stories">');
  for (final story in kiln.stories) {
    out.writeln('    <li class="story">${e(story.title)}</li>');
  }
  out
    ..writeln('  </ul>')
    ..write('</main>');
  return out.toString();
}

/// Fills the markers of the built index.html; throws if either is missing, because a page
/// without the summary would fail Kiln's deploy check far from the cause.
String injectSummary(String indexHtml, Kiln kiln) {
  if (!indexHtml.contains(summaryMarker) || !indexHtml.contains(titleMarker)) {
    throw StateError('index.html lacks "$summaryMarker" or "$titleMarker"');
  }
  return indexHtml
      .replaceFirst(titleMarker, _escape.convert(kiln.title))
      .replaceFirst(summaryMarker, renderSummary(kiln));
}
