// Parsing a project's knowledge record. The API documents `knowledge` as a free object, and
// everything in it was read from the project's repository, which may be hostile: every field is
// checked for its type, a wrong one reads as absent, and nothing here throws on any JSON.
import {
  KNOWLEDGE_COMMANDS,
  SUMMARY_SOURCES,
  type FlaggedSecret,
  type Knowledge,
  type KnowledgeBuildSystem,
  type KnowledgeCommand,
  type KnowledgeCommandName,
  type KnowledgeCommands,
  type KnowledgeConvention,
  type KnowledgeLanguage,
  type ProjectKnowledge,
  type SummarySource,
} from './types';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v[key]` when `v` is an object that has it as its own property. */
function field(v: unknown, key: string): unknown {
  return isObj(v) && Object.prototype.hasOwnProperty.call(v, key) ? v[key] : undefined;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** A string with something in it. */
function text(v: unknown): string | null {
  return typeof v === 'string' && v.trim() !== '' ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function strings(v: unknown): string[] {
  return list(v).filter((x): x is string => text(x) !== null);
}

function language(v: unknown): KnowledgeLanguage | null {
  const name = text(field(v, 'name'));
  if (name === null) return null;
  const percent = num(field(v, 'percent'));
  return {
    name,
    files: num(field(v, 'files')),
    lines: num(field(v, 'lines')),
    percent: percent === null ? null : Math.min(100, Math.max(0, percent)),
  };
}

function buildSystem(v: unknown): KnowledgeBuildSystem | null {
  const name = text(field(v, 'name'));
  if (name === null) return null;
  return {
    name,
    manifest: text(field(v, 'manifest')),
    root: text(field(v, 'root')),
    workspace: field(v, 'workspace') === true,
  };
}

function commands(v: unknown): KnowledgeCommands {
  const sources = field(v, 'sources');
  const byName = {} as Record<KnowledgeCommandName, KnowledgeCommand>;
  for (const name of KNOWLEDGE_COMMANDS) {
    byName[name] = { command: text(field(v, name)), source: text(field(sources, name)) };
  }
  return { byName, noTests: field(v, 'no_tests') === true };
}

function secret(v: unknown): FlaggedSecret | null {
  const path = text(field(v, 'path'));
  return path === null ? null : { path, reason: str(field(v, 'reason')) ?? '' };
}

/** One convention entry as a line of text: a string as it is, an object by its name (or
 *  pattern, system, style or path) with what else is known of it; anything else is dropped. */
function conventionLine(v: unknown): string | null {
  if (typeof v === 'string') return text(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (!isObj(v)) return null;
  const path = text(field(v, 'path'));
  const main = ['name', 'pattern', 'system', 'style'].map((k) => text(field(v, k))).find((s) => s !== null) ?? path;
  if (main === null) return null;
  let line = main;
  const extra: string[] = [];
  const kind = text(field(v, 'kind'));
  if (kind !== null) extra.push(kind);
  if (path !== null && path !== main) extra.push(path);
  const files = num(field(v, 'files'));
  if (files !== null) extra.push(`${files} ${files === 1 ? 'file' : 'files'}`);
  const matching = num(field(v, 'matching'));
  const total = num(field(v, 'total'));
  if (matching !== null && total !== null) extra.push(`${matching} of ${total} commits`);
  if (extra.length > 0) line += ` (${extra.join(', ')})`;
  const example = text(field(v, 'example'));
  if (example !== null) line += `, e.g. ${JSON.stringify(example)}`;
  return line;
}

function conventions(v: unknown): KnowledgeConvention[] {
  if (!isObj(v)) return [];
  const out: KnowledgeConvention[] = [];
  for (const [key, value] of Object.entries(v)) {
    const values = (Array.isArray(value) ? value.map(conventionLine) : [conventionLine(value)]).filter(
      (s): s is string => s !== null,
    );
    if (values.length > 0) out.push({ key, values });
  }
  return out;
}

function summarySource(v: unknown): SummarySource | null {
  return SUMMARY_SOURCES.find((s) => s === v) ?? null;
}

function present<T>(x: T | null): x is T {
  return x !== null;
}

/** The knowledge record, whatever JSON it is: missing or mistyped fields read as empty. */
export function parseKnowledge(v: unknown): Knowledge {
  return {
    summary: str(field(v, 'summary')) ?? '',
    summarySource: summarySource(field(v, 'summary_source')),
    languages: list(field(v, 'languages')).map(language).filter(present),
    buildSystems: list(field(v, 'build_systems')).map(buildSystem).filter(present),
    frameworks: strings(field(v, 'frameworks')),
    commands: commands(field(v, 'commands')),
    entryPoints: strings(field(v, 'entry_points')),
    conventions: conventions(field(v, 'conventions')),
    secrets: list(field(v, 'secrets')).map(secret).filter(present),
    overridden: strings(field(v, 'overridden')),
    notes: strings(field(v, 'notes')),
    files: num(field(v, 'files')),
    lines: num(field(v, 'lines')),
  };
}

/** `GET /api/v1/projects/{name}/knowledge`'s answer, parsed. */
export function parseProjectKnowledge(v: unknown): ProjectKnowledge {
  return {
    project: str(field(v, 'project')) ?? '',
    commit: str(field(v, 'commit')) ?? '',
    scanned_at: str(field(v, 'scanned_at')) ?? '',
    knowledge: parseKnowledge(field(v, 'knowledge')),
  };
}
