// One project: its current URL, deployments across its tasks, memory lessons (when the API
// has project memory), recent tasks, what Kiln learned about its code and a search of it.
import { useState, type FormEvent, type ReactNode } from 'react';
import { Link, useParams } from 'react-router';

import { ApiError } from '../api/client';
import {
  isMissingRoute,
  useAddLesson,
  useDeleteLesson,
  useKnowledge,
  useMemory,
  useProjects,
  useSearch,
  useTaskDetails,
  useTasks,
  useUpdateLesson,
  type SearchInput,
} from '../api/queries';
import {
  KNOWLEDGE_COMMANDS,
  SEARCH_MODES,
  type Deployment,
  type Knowledge,
  type KnowledgeCommandName,
  type Lesson,
  type ProjectKnowledge,
  type SearchMode,
  type SearchResult,
  type SearchSnippet,
  type SummarySource,
} from '../api/types';
import { ExternalIcon } from '../components/icons';
import {
  Button,
  Card,
  Chip,
  cx,
  Empty,
  ErrorNotice,
  ExternalLink,
  Field,
  Loading,
  OutcomeChip,
  PageHeader,
  RelativeTime,
  Select,
  StatusChip,
  TextArea,
  TextInput,
  useTitle,
} from '../components/ui';
import { count, duration, shortSha } from '../lib/format';

const RECENT = 10;

function LessonItem({ project, lesson }: { project: string; lesson: Lesson }) {
  const update = useUpdateLesson(project);
  const remove = useDeleteLesson(project);
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(lesson.lesson);
  return (
    <li className="py-2 text-sm" data-testid="lesson">
      {editing ? (
        <form
          className="space-y-2"
          onSubmit={(e) => {
            e.preventDefault();
            update.mutate({ id: lesson.id, lesson: text.trim() }, { onSuccess: () => setEditing(false) });
          }}
        >
          <TextArea aria-label="Lesson" value={text} onChange={(e) => setText(e.target.value)} className="min-h-16" />
          <div className="flex gap-2">
            <Button type="submit" variant="primary" busy={update.isPending} disabled={!text.trim()}>
              Save
            </Button>
            <Button onClick={() => setEditing(false)}>Back</Button>
          </div>
          {update.isError && <ErrorNotice error={update.error} title="Not saved" />}
        </form>
      ) : (
        <div className="flex items-start gap-3">
          <div className="min-w-0 flex-1">
            <p className="whitespace-pre-wrap">{lesson.lesson}</p>
            <p className="mt-0.5 text-xs text-zinc-500">
              updated <RelativeTime iso={lesson.updated_at} />
              {lesson.source_task_id && (
                <>
                  {' · from '}
                  <Link to={`/tasks/${lesson.source_task_id}`} className="font-mono hover:underline">
                    {lesson.source_task_id.slice(0, 8)}
                  </Link>
                </>
              )}
            </p>
          </div>
          <Button variant="ghost" onClick={() => setEditing(true)} aria-label={`Edit lesson: ${lesson.lesson}`}>
            Edit
          </Button>
          <Button
            variant="ghost"
            busy={remove.isPending}
            onClick={() => remove.mutate({ id: lesson.id })}
            aria-label={`Delete lesson: ${lesson.lesson}`}
          >
            Delete
          </Button>
        </div>
      )}
      {remove.isError && <ErrorNotice error={remove.error} title="Not deleted" />}
    </li>
  );
}

function MemoryPanel({ project }: { project: string }) {
  const memory = useMemory(project);
  const add = useAddLesson(project);
  const [text, setText] = useState('');
  // The API has no project memory yet: show nothing rather than an error.
  if (memory.isError && isMissingRoute(memory.error)) return null;
  return (
    <Card title="Memory">
      {memory.isPending ? (
        <Loading label="Loading lessons" />
      ) : memory.isError ? (
        <ErrorNotice error={memory.error} title="Lessons not available" />
      ) : (
        <>
          <p className="text-xs text-zinc-500 dark:text-zinc-400">Lessons Kiln applies to every later task of this project.</p>
          {memory.data.length === 0 ? (
            <Empty>No lessons yet.</Empty>
          ) : (
            <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
              {memory.data.map((l) => (
                <LessonItem key={l.id} project={project} lesson={l} />
              ))}
            </ul>
          )}
          <form
            className="mt-3 space-y-2"
            onSubmit={(e) => {
              e.preventDefault();
              add.mutate({ lesson: text.trim() }, { onSuccess: () => setText('') });
            }}
          >
            <TextArea
              aria-label="New lesson"
              placeholder="e.g. Use the brand colour #c2410c for buttons"
              value={text}
              onChange={(e) => setText(e.target.value)}
              className="min-h-16"
            />
            <Button type="submit" variant="primary" busy={add.isPending} disabled={!text.trim()}>
              Add lesson
            </Button>
            {add.isError && <ErrorNotice error={add.error} title="Lesson not added" />}
          </form>
        </>
      )}
    </Card>
  );
}

function DeploymentsPanel({ deployments }: { deployments: (Deployment & { task_id?: string })[] }) {
  return (
    <Card title="Deployments">
      {deployments.length === 0 ? (
        <Empty>Nothing deployed yet.</Empty>
      ) : (
        <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
          {deployments.map((d, i) => (
            <li key={i} className="flex flex-wrap items-center gap-2 py-2 text-sm">
              <OutcomeChip value={d.status} />
              <span className="font-mono text-xs">{shortSha(d.commit_sha)}</span>
              <RelativeTime iso={d.created_at} className="text-xs text-zinc-500" />
              {d.task_id && (
                <Link to={`/tasks/${d.task_id}`} className="text-xs text-zinc-500 hover:underline">
                  task {d.task_id.slice(0, 8)}
                </Link>
              )}
              <ExternalLink href={d.url} className="ml-auto max-w-full min-w-0 truncate text-xs">
                {d.url}
              </ExternalLink>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

// ---- project knowledge
// Everything in a knowledge record was read from the repository: rendered as text (React
// escapes it), never as HTML, and links are never made of it.

const SUMMARY_SOURCE_LABELS: Record<SummarySource, string> = {
  outline: 'outline of the detected fields',
  model: 'written by a model',
  override: 'from .kiln/project.toml',
};

const COMMAND_LABELS: Record<KnowledgeCommandName, string> = {
  install: 'Install',
  build: 'Build',
  test: 'Test',
  lint: 'Lint',
  run: 'Run',
};

const CONVENTION_LABELS: Record<string, string> = {
  tools: 'Tools',
  test_layout: 'Test layout',
  test_patterns: 'Test files',
  commit_style: 'Commit style',
  ci: 'CI',
};

/** `test_layout` → `Test layout` for a convention the dashboard does not know by name. */
function conventionLabel(key: string): string {
  const known = Object.prototype.hasOwnProperty.call(CONVENTION_LABELS, key) ? CONVENTION_LABELS[key] : undefined;
  if (known) return known;
  const words = key.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function percent(p: number): string {
  return `${p.toFixed(1)}%`;
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="min-w-0">
      <h3 className="text-xs font-semibold tracking-wide text-zinc-500 uppercase dark:text-zinc-400">{title}</h3>
      <div className="mt-1.5">{children}</div>
    </div>
  );
}

function NotDetected({ children = 'not detected' }: { children?: ReactNode }) {
  return <span className="text-sm text-zinc-500 italic dark:text-zinc-400">{children}</span>;
}

function Languages({ knowledge }: { knowledge: Knowledge }) {
  if (knowledge.languages.length === 0) return <NotDetected>No languages detected.</NotDetected>;
  return (
    <ul aria-label="Languages" className="space-y-1.5">
      {knowledge.languages.map((l, i) => (
        <li key={i} className="text-sm" data-testid="knowledge-language">
          <div className="flex items-baseline gap-2">
            <span className="min-w-0 flex-1 truncate font-medium" title={l.name}>
              {l.name}
            </span>
            {l.percent !== null && <span className="tabular-nums">{percent(l.percent)}</span>}
            {l.lines !== null && (
              <span className="w-28 text-right text-xs text-zinc-500 tabular-nums dark:text-zinc-400">
                {count(l.lines)} {l.lines === 1 ? 'line' : 'lines'}
              </span>
            )}
          </div>
          {l.percent !== null && (
            <div className="mt-0.5 h-1.5 overflow-hidden rounded-full bg-zinc-100 dark:bg-zinc-800" aria-hidden="true">
              <div className="h-full rounded-full bg-brand-600" style={{ width: `${l.percent}%` }} />
            </div>
          )}
        </li>
      ))}
    </ul>
  );
}

function Commands({ knowledge }: { knowledge: Knowledge }) {
  const { byName, noTests } = knowledge.commands;
  return (
    <dl className="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1.5 text-sm">
      {KNOWLEDGE_COMMANDS.map((name) => {
        const c = byName[name];
        return (
          <div key={name} className="contents">
            <dt className="text-zinc-500 dark:text-zinc-400">{COMMAND_LABELS[name]}</dt>
            <dd className="min-w-0" data-testid={`knowledge-command-${name}`}>
              {c.command !== null ? (
                <>
                  <code className="rounded bg-zinc-100 px-1.5 py-0.5 font-mono text-xs break-all dark:bg-zinc-800">{c.command}</code>
                  {c.source && <span className="ml-2 text-xs break-words text-zinc-500 dark:text-zinc-400">from {c.source}</span>}
                </>
              ) : name === 'test' && noTests ? (
                <NotDetected>no tests (the project says it has none)</NotDetected>
              ) : name === 'test' ? (
                <span className="text-sm font-medium text-amber-800 dark:text-amber-300">
                  not detected: Kiln cannot run this project&apos;s tests
                </span>
              ) : (
                <NotDetected />
              )}
            </dd>
          </div>
        );
      })}
    </dl>
  );
}

function Secrets({ knowledge }: { knowledge: Knowledge }) {
  if (knowledge.secrets.length === 0) return null;
  return (
    <div
      data-testid="knowledge-secrets"
      className="rounded-lg border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950 dark:border-amber-800 dark:bg-amber-950/60 dark:text-amber-100"
    >
      <p className="font-medium">
        {knowledge.secrets.length === 1 ? '1 file flagged as a secret' : `${count(knowledge.secrets.length)} files flagged as secrets`}
      </p>
      <p className="mt-0.5 text-xs">These files are never indexed or shown to a model.</p>
      <ul aria-label="Flagged secrets" className="mt-1.5 space-y-0.5">
        {knowledge.secrets.map((s, i) => (
          <li key={i} data-testid="knowledge-secret" className="break-words">
            <span className="font-mono font-medium break-all">{s.path}</span>
            {s.reason && <span className="text-amber-900 dark:text-amber-200"> — {s.reason}</span>}
          </li>
        ))}
      </ul>
    </div>
  );
}

function TextList({ label, items, mono }: { label: string; items: string[]; mono?: boolean }) {
  return (
    <ul aria-label={label} className="flex flex-wrap gap-1.5">
      {items.map((item, i) => (
        <li
          key={i}
          className={cx(
            'rounded bg-zinc-100 px-1.5 py-0.5 text-xs break-all text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300',
            mono && 'font-mono',
          )}
        >
          {item}
        </li>
      ))}
    </ul>
  );
}

function KnowledgeView({ record }: { record: ProjectKnowledge }) {
  const k = record.knowledge;
  return (
    <div className="space-y-4">
      <p className="text-xs text-zinc-500 dark:text-zinc-400" data-testid="knowledge-scan">
        {record.commit && (
          <>
            commit <span className="font-mono">{shortSha(record.commit)}</span>
          </>
        )}
        {record.scanned_at && (
          <>
            {record.commit && ' · '}scanned <RelativeTime iso={record.scanned_at} />
          </>
        )}
        {k.files !== null && ` · ${count(k.files)} ${k.files === 1 ? 'file' : 'files'}`}
        {k.lines !== null && ` · ${count(k.lines)} ${k.lines === 1 ? 'line' : 'lines'}`}
      </p>
      <Secrets knowledge={k} />
      <div>
        {k.summary.trim() ? (
          <p className="text-sm whitespace-pre-wrap break-words" data-testid="knowledge-summary">
            {k.summary}
          </p>
        ) : (
          <NotDetected>No summary.</NotDetected>
        )}
        {k.summarySource && (
          <p className="mt-1 text-xs text-zinc-500 dark:text-zinc-400" data-testid="knowledge-summary-source">
            Summary: {SUMMARY_SOURCE_LABELS[k.summarySource]}
          </p>
        )}
      </div>
      <div className="grid gap-4 md:grid-cols-2">
        <Section title="Languages">
          <Languages knowledge={k} />
        </Section>
        <Section title="Commands">
          <Commands knowledge={k} />
        </Section>
        <Section title="Build systems">
          {k.buildSystems.length === 0 ? (
            <NotDetected />
          ) : (
            <ul aria-label="Build systems" className="space-y-1 text-sm">
              {k.buildSystems.map((b, i) => (
                <li key={i} className="flex flex-wrap items-baseline gap-x-2" data-testid="knowledge-build-system">
                  <span className="font-medium">{b.name}</span>
                  {b.manifest && <span className="font-mono text-xs break-all text-zinc-600 dark:text-zinc-400">{b.manifest}</span>}
                  {b.root && b.root !== '.' && <span className="text-xs break-all text-zinc-500">in {b.root}</span>}
                  {b.workspace && (
                    <Chip tone="neutral" className="self-center">
                      workspace
                    </Chip>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Section>
        <Section title="Frameworks">
          {k.frameworks.length === 0 ? <NotDetected>none detected</NotDetected> : <TextList label="Frameworks" items={k.frameworks} />}
        </Section>
        <Section title="Entry points">
          {k.entryPoints.length === 0 ? <NotDetected /> : <TextList label="Entry points" items={k.entryPoints} mono />}
        </Section>
        {k.conventions.length > 0 && (
          <Section title="Conventions">
            <dl className="grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-sm">
              {k.conventions.map((c, i) => (
                <div key={i} className="contents">
                  <dt className="text-zinc-500 dark:text-zinc-400">{conventionLabel(c.key)}</dt>
                  <dd className="min-w-0 break-words">{c.values.join('; ')}</dd>
                </div>
              ))}
            </dl>
          </Section>
        )}
      </div>
      {k.overridden.length > 0 && (
        <Section title="Set by .kiln/project.toml">
          <TextList label="Overridden fields" items={k.overridden} mono />
        </Section>
      )}
      {k.notes.length > 0 && (
        <Section title="Notes">
          <ul aria-label="Scan notes" className="list-disc space-y-0.5 pl-5 text-xs break-words text-zinc-600 dark:text-zinc-400">
            {k.notes.map((n, i) => (
              <li key={i}>{n}</li>
            ))}
          </ul>
        </Section>
      )}
    </div>
  );
}

function KnowledgePanel({ project }: { project: string }) {
  const knowledge = useKnowledge(project);
  return (
    <Card title="Project knowledge" className="lg:col-span-2">
      {knowledge.isPending ? (
        <Loading label="Loading project knowledge" />
      ) : knowledge.isError ? (
        knowledge.error instanceof ApiError && knowledge.error.status === 404 ? (
          // Nothing scanned yet: expected for a new or just imported project, not a failure.
          <p
            data-testid="knowledge-missing"
            className="rounded-lg border border-zinc-200 bg-zinc-50 px-3 py-2 text-sm break-words text-zinc-600 dark:border-zinc-800 dark:bg-zinc-800/40 dark:text-zinc-400"
          >
            {knowledge.error.problem.detail}
          </p>
        ) : (
          <ErrorNotice error={knowledge.error} title="Project knowledge not available" />
        )
      ) : (
        <KnowledgeView record={knowledge.data} />
      )}
    </Card>
  );
}

// ---- code search

const MODE_LABELS: Record<SearchMode, string> = { hybrid: 'Hybrid', dense: 'Dense (embeddings)', sparse: 'Sparse (BM25)' };

/** `src/cart.rs:8-12` */
function snippetPlace(s: SearchSnippet): string {
  return `${s.path}:${s.start_line}-${s.end_line}`;
}

interface FileHits {
  path: string;
  /** Null for a file with snippets that is not among the ranked files. */
  score: number | null;
  chunks: number | null;
  snippets: SearchSnippet[];
}

/** Files in rank order, each with its snippets; snippets of a file not ranked come last. */
function groupByFile(result: SearchResult): FileHits[] {
  const groups: FileHits[] = result.files.map((f) => ({ path: f.path, score: f.score, chunks: f.chunks, snippets: [] }));
  const byPath = new Map(groups.map((g) => [g.path, g]));
  for (const s of result.snippets) {
    let g = byPath.get(s.path);
    if (!g) {
      g = { path: s.path, score: null, chunks: null, snippets: [] };
      byPath.set(s.path, g);
      groups.push(g);
    }
    g.snippets.push(s);
  }
  return groups;
}

function Snippet({ snippet }: { snippet: SearchSnippet }) {
  const place = snippetPlace(snippet);
  return (
    <li className="mt-2" data-testid="search-snippet">
      <div className="flex flex-wrap items-center gap-x-2 gap-y-1 text-xs">
        <span className="font-mono font-medium break-all">{place}</span>
        {snippet.lang && <span className="text-zinc-500 dark:text-zinc-400">{snippet.lang}</span>}
        {snippet.symbols.length > 0 && (
          <ul aria-label={`Symbols in ${place}`} className="flex flex-wrap gap-1">
            {snippet.symbols.map((sym, i) => (
              <li key={i} className="rounded bg-zinc-100 px-1.5 py-0.5 font-mono break-all text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300">
                {sym}
              </li>
            ))}
          </ul>
        )}
      </div>
      {/* Repository content: rendered as text (React escapes it), never as HTML. */}
      <pre
        tabIndex={0}
        aria-label={`Lines ${place}`}
        className="mt-1 max-h-72 overflow-auto rounded bg-zinc-50 p-2 font-mono text-xs leading-relaxed dark:bg-zinc-800/60"
      >
        {snippet.text}
      </pre>
    </li>
  );
}

function SearchResults({ result }: { result: SearchResult }) {
  const groups = groupByFile(result);
  return (
    <div className="space-y-3">
      <p className="text-xs text-zinc-500 dark:text-zinc-400" data-testid="search-summary">
        {count(result.files.length)} {result.files.length === 1 ? 'file' : 'files'} · mode{' '}
        <span className="font-medium text-zinc-700 dark:text-zinc-300" data-testid="search-mode">
          {result.mode}
        </span>{' '}
        · took {duration(result.took_ms)} · {count(result.tokens)} tokens · commit{' '}
        <span className="font-mono">{shortSha(result.commit)}</span>
      </p>
      {result.warning && (
        <div
          data-testid="search-warning"
          className="rounded-lg border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950 dark:border-amber-800 dark:bg-amber-950/60 dark:text-amber-100"
        >
          <p className="font-medium">Degraded search</p>
          <p className="mt-0.5 break-words">{result.warning}</p>
        </div>
      )}
      {groups.length === 0 ? (
        <Empty>Nothing found.</Empty>
      ) : (
        <ol aria-label="Matching files" className="divide-y divide-zinc-100 dark:divide-zinc-800">
          {groups.map((g) => (
            <li key={g.path} className="min-w-0 py-2.5" data-testid="search-file">
              <div className="flex flex-wrap items-baseline gap-x-2 text-sm">
                <span className="font-mono font-semibold break-all" data-testid="search-file-path">
                  {g.path}
                </span>
                {g.score !== null && <span className="text-xs text-zinc-500 dark:text-zinc-400">score {g.score.toFixed(3)}</span>}
                {g.chunks !== null && (
                  <span className="text-xs text-zinc-500 dark:text-zinc-400">
                    {g.chunks} {g.chunks === 1 ? 'chunk' : 'chunks'}
                  </span>
                )}
              </div>
              {g.snippets.length > 0 && (
                <ul aria-label={`Snippets of ${g.path}`}>
                  {g.snippets.map((s) => (
                    <Snippet key={`${s.start_line}-${s.end_line}`} snippet={s} />
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

function SearchPanel({ project }: { project: string }) {
  const [text, setText] = useState('');
  const [mode, setMode] = useState<SearchMode>('hybrid');
  // What was submitted: the search runs on submit, not on every keystroke.
  const [submitted, setSubmitted] = useState<SearchInput | null>(null);
  const search = useSearch(project, submitted);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const q = text.trim();
    if (!q) return;
    if (submitted && submitted.q === q && submitted.mode === mode) void search.refetch();
    else setSubmitted({ q, mode });
  };

  return (
    <Card title="Search code" className="lg:col-span-2">
      <form role="search" aria-label={`Search the code of ${project}`} onSubmit={submit} className="flex flex-wrap items-end gap-2">
        <Field label="Search for" className="min-w-48 flex-1">
          {(field) => (
            <TextInput
              {...field}
              type="search"
              placeholder="Words, identifiers, paths or an error message"
              value={text}
              onChange={(e) => setText(e.target.value)}
              maxLength={1000}
            />
          )}
        </Field>
        <Field label="Ranking" className="w-48">
          {(field) => (
            <Select {...field} value={mode} onChange={(e) => setMode(e.target.value as SearchMode)}>
              {SEARCH_MODES.map((m) => (
                <option key={m} value={m}>
                  {MODE_LABELS[m]}
                </option>
              ))}
            </Select>
          )}
        </Field>
        <Button type="submit" variant="primary" busy={search.isFetching} disabled={!text.trim()}>
          Search
        </Button>
      </form>
      <div aria-live="polite" aria-busy={search.isFetching || undefined} className="mt-3" data-testid="search-results">
        {!submitted ? null : search.isFetching ? (
          <Loading label="Searching" />
        ) : search.isError ? (
          <ErrorNotice error={search.error} title="Search failed" />
        ) : search.data ? (
          <SearchResults result={search.data} />
        ) : null}
      </div>
    </Card>
  );
}

export function ProjectPage() {
  const { name = '' } = useParams();
  const projects = useProjects();
  useTitle(name);
  const tasks = useTasks({ project: name, limit: RECENT });
  const recent = tasks.data?.pages[0]?.items ?? [];
  const details = useTaskDetails(recent.map((t) => t.id));
  const project = projects.data?.find((p) => p.name === name);

  const deployments =
    project?.deployments ??
    details
      .flatMap((q) => (q.data ? q.data.deployments.map((d) => ({ ...d, task_id: q.data.id })) : []))
      .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));

  if (projects.isPending) return <Loading label="Loading project" />;
  if (projects.isError) return <ErrorNotice error={projects.error} title="Projects not available" />;
  if (!project) return <ErrorNotice error={new Error(`no project named ${JSON.stringify(name)}`)} title="No such project" />;

  return (
    <div className="space-y-4">
      <nav aria-label="Breadcrumb" className="text-sm">
        <Link to="/projects" className="text-zinc-500 hover:text-zinc-800 dark:text-zinc-400 dark:hover:text-zinc-200">
          Projects
        </Link>
      </nav>
      <PageHeader
        title={project.name}
        subtitle={
          <>
            {project.template && `${project.template} · `}created <RelativeTime iso={project.created_at} />
            {project.source_url && (
              <>
                {' · imported from '}
                {/* Shown as text, not a link: the URL is whatever the importer gave. */}
                <span className="font-mono break-all" data-testid="project-source">
                  {project.source_url}
                </span>
              </>
            )}
          </>
        }
        actions={
          project.deployment_url && (
            <a
              href={project.deployment_url}
              target="_blank"
              rel="noreferrer"
              className="inline-flex items-center gap-1.5 rounded-md bg-brand-700 px-3 py-1.5 text-sm font-medium text-white shadow-sm hover:bg-brand-800"
            >
              Open app <ExternalIcon className="size-3.5" />
            </a>
          )
        }
      />
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Current URL">
          {project.deployment_url ? (
            <ExternalLink href={project.deployment_url} className="break-all">
              {project.deployment_url}
            </ExternalLink>
          ) : (
            <p className="text-sm text-zinc-500">Not deployed.</p>
          )}
        </Card>
        <Card title="Recent tasks">
          {tasks.isPending ? (
            <Loading />
          ) : recent.length === 0 ? (
            <Empty>No tasks.</Empty>
          ) : (
            <ul className="divide-y divide-zinc-100 dark:divide-zinc-800">
              {recent.map((t) => (
                <li key={t.id} className="flex items-center gap-2 py-2 text-sm">
                  <StatusChip status={t.status} />
                  <Link to={`/tasks/${t.id}`} className="min-w-0 flex-1 truncate hover:underline" title={t.brief}>
                    {t.brief}
                  </Link>
                  <RelativeTime iso={t.created_at} className="shrink-0 text-xs text-zinc-500" />
                </li>
              ))}
            </ul>
          )}
        </Card>
        <DeploymentsPanel deployments={deployments} />
        <MemoryPanel project={project.name} />
        <KnowledgePanel project={project.name} />
        <SearchPanel key={project.name} project={project.name} />
      </div>
    </div>
  );
}
