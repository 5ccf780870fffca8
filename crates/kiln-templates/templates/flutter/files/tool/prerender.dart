// Build step: injects the escaped summary from kiln.json into build/web/index.html.
// Usage: dart run tool/prerender.dart [build/web]

import 'dart:io';

import 'package:kiln_app/kiln.dart';
import 'package:kiln_app/prerender.dart';

void main(List<String> args) {
  final dir = args.isEmpty ? 'build/web' : args.first;
  final kiln = Kiln.parse(File('kiln.json').readAsStringSync());
  final index = File('$dir/index.html');
  index.writeAsStringSync(injectSummary(index.readAsStringSync(), kiln));
  stdout.writeln('prerender: wrote ${kiln.stories.length} story title(s) into ${index.path}');
}
