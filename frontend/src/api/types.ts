// The dashboard's view of the API's JSON. Everything the API describes comes from the
// generated schema (src/api/schema.d.ts, `npm run gen:api`).
//
// Two kinds of hand-written shapes remain, each marked:
// - `Landing<Generated, Announced>` adds fields announced for the API but not in it yet, as
//   optional and nullable, so panels render nothing while a field is absent. Once the API
//   describes a field, the generated type wins and the announced one drops out by itself.
// - Element shapes of fields the API's document leaves untyped (`Vec<Object>`: clarifications,
//   approvals, round errors, lessons), written as the API serializes them. Typing them in the
//   API's OpenAPI (ToSchema on the store records) would let these go too.
import type { components } from './schema';

type Schemas = components['schemas'];

/** `Generated` plus the fields of `Announced` it does not have yet, each optional. */
export type Landing<Generated, Announced> = Generated & {
  [K in Exclude<keyof Announced, keyof Generated>]?: Announced[K] | null;
};

export type Problem = Schemas['Problem'];
export type TaskStatus = Schemas['TaskStatus'];
export type TaskKind = Schemas['TaskKind'];
export type CreateTask = Schemas['CreateTask'];
export type TaskList = Schemas['TaskList'];
export type StageRun = Schemas['StageRunView'];
export type Plan = Schemas['PlanView'];
export type Story = Schemas['StoryView'];
export type Commit = Schemas['CommitView'];
export type TestRun = Schemas['TestRunView'];
export type TestCommand = Schemas['TestCommandView'];
export type Review = Schemas['ReviewView'];
export type Finding = Schemas['FindingView'];
export type Gate = Schemas['GateView'];
export type Reason = Schemas['ReasonView'];
export type Deployment = Schemas['DeploymentView'];
export type Template = Schemas['TemplateView'];
export type TemplateList = Schemas['TemplateList'];
export type ProjectList = Schemas['ProjectList'];
export type LogFrame = Schemas['LogFrame'];
export type SystemView = Schemas['SystemView'];
export type ServiceView = Schemas['ServiceView'];
export type Replica = Schemas['ReplicaView'];
export type StageQueue = Schemas['StageQueueView'];
export type DeadLetter = Schemas['DeadLetterView'];

// ---- announced shapes (see the note at the top)

export interface Clarification {
  id: string;
  question: string;
  answer: string | null;
  asked_at: string;
  answered_at: string | null;
}

export type AwaitingKind = 'clarification' | 'plan_approval' | 'release_approval' | 'budget_approval';

export type Awaiting = Omit<Schemas['AwaitingView'], 'kind'> & { kind: AwaitingKind };

export interface BudgetLimits {
  max_tokens?: number | null;
  max_cost_usd?: number | null;
  max_calls?: number | null;
}

/** Limits as a task's options and the approve body carry them (each optional). */
export type Budget = Schemas['BudgetView'];
export type StageUsage = Schemas['StageUsageView'];

export interface RoundError {
  file: string | null;
  line: number | null;
  column: number | null;
  message: string;
  tool: string;
  command: string;
}

export type Round = Omit<Schemas['RoundView'], 'errors' | 'stop_reason'> & {
  errors: RoundError[];
  stop_reason?: string | null;
};

export interface Approval {
  kind: string;
  decision: 'approve' | 'reject';
  actor: string;
  reason: string | null;
  created_at: string;
}

export type ApprovalPolicy = 'none' | 'plan' | 'release' | 'both';

export interface TaskOptions {
  approval?: ApprovalPolicy;
  budget?: BudgetLimits;
  max_fix_rounds?: number;
}

export interface Lesson {
  id: string;
  lesson: string;
  source_task_id: string | null;
  created_at: string;
  updated_at: string;
}

export type LlmUsage = Landing<Schemas['LlmUsage'], { cached_tokens: number; by_stage: StageUsage[] }>;

/** A list row; `llm_usage` and `cost_usd` show once the API puts them on summaries. */
export type TaskSummary = Landing<Schemas['TaskSummary'], { llm_usage: LlmUsage; cost_usd: number }>;

/** A task with every record. The people-in-the-loop fields are optional so that an API
 *  without them (an older server) still renders. */
export type TaskDetail = Omit<
  Schemas['TaskDetail'],
  'llm_usage' | 'clarifications' | 'awaiting' | 'budget' | 'rounds' | 'approvals'
> & {
  llm_usage: LlmUsage;
  clarifications?: Clarification[] | null;
  awaiting?: Awaiting | null;
  budget?: Budget | null;
  rounds?: Round[] | null;
  approvals?: Approval[] | null;
};

export type Project = Landing<Schemas['ProjectView'], { deployments: Deployment[] }>;

// ---- access, kill switch and audit

/** Roles, weakest first: each allows everything the ones before it do. */
export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** `GET/POST /api/v1/session`: who is signed in, and the CSRF token mutations must echo. */
export type SessionView = Schemas['SessionView'];
/** `PUT /api/v1/system/pause` body. */
export type SetPause = Schemas['SetPause'];
export type ProjectPause = Schemas['ProjectPause'];
/** Every pause in force; `reached`/`reach_ms`/`resumed_tasks` describe the change just made. */
export type PauseView = Schemas['PauseView'];
export type AuditEntry = Schemas['AuditEntryView'];
/** `GET /api/v1/audit`: newest first; `next_cursor` (pass as `cursor`) pages to older. */
export type AuditPage = Schemas['AuditPage'];
export type TokenView = Schemas['TokenView'];
export type CreatedToken = Schemas['CreatedToken'];

// ---- code search

/** How a search ranks: both retrievers fused, embeddings only, or BM25 only. */
export const SEARCH_MODES = ['hybrid', 'dense', 'sparse'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];
/** `GET /api/v1/projects/{name}/search`: ranked files and their snippets, best first. The
 *  document types `mode` as a string; the API answers one of SEARCH_MODES. */
export type SearchResult = Omit<Schemas['SearchResult'], 'mode'> & { mode: SearchMode };
export type SearchFile = Schemas['SearchFile'];
/** Lines of a file as stored in the repository: untrusted text, to be shown as text only. */
export type SearchSnippet = Schemas['SearchSnippet'];

// ---- project knowledge

/** `GET /api/v1/projects/{name}/knowledge` as the document types it: `knowledge` is a free
 *  object there. Parse it with `parseProjectKnowledge` (api/knowledge.ts) before use. */
export type ProjectKnowledgeView = Schemas['ProjectKnowledge'];

/** The commands Kiln detects for a project, in the order they run. */
export const KNOWLEDGE_COMMANDS = ['install', 'build', 'test', 'lint', 'run'] as const;
export type KnowledgeCommandName = (typeof KNOWLEDGE_COMMANDS)[number];

/** Who wrote a knowledge summary: built from the detected fields, a model, or the project file. */
export const SUMMARY_SOURCES = ['outline', 'model', 'override'] as const;
export type SummarySource = (typeof SUMMARY_SOURCES)[number];

// The narrow view of the knowledge record (kiln-knowledge's `Knowledge`) the dashboard renders.
// Every string in it comes from the scanned repository: untrusted text, shown as text only.

export interface KnowledgeLanguage {
  name: string;
  files: number | null;
  lines: number | null;
  /** Share of all counted lines, 0 to 100 (clamped). */
  percent: number | null;
}

export interface KnowledgeBuildSystem {
  name: string;
  manifest: string | null;
  /** Its directory, `.` for the repository root. */
  root: string | null;
  workspace: boolean;
}

export interface KnowledgeCommand {
  /** Null when not detected: Kiln never invents a command. */
  command: string | null;
  /** Where it came from (`package.json scripts.test`, `override`, ...). */
  source: string | null;
}

export interface KnowledgeCommands {
  byName: Record<KnowledgeCommandName, KnowledgeCommand>;
  /** The project declares it has no tests (`test = ""` in `.kiln/project.toml`). */
  noTests: boolean;
}

export interface FlaggedSecret {
  path: string;
  reason: string;
}

/** One convention (`tools`, `test_layout`, `ci`, ...) as lines of text; unknown shapes dropped. */
export interface KnowledgeConvention {
  key: string;
  values: string[];
}

export interface Knowledge {
  summary: string;
  summarySource: SummarySource | null;
  languages: KnowledgeLanguage[];
  buildSystems: KnowledgeBuildSystem[];
  frameworks: string[];
  commands: KnowledgeCommands;
  entryPoints: string[];
  conventions: KnowledgeConvention[];
  secrets: FlaggedSecret[];
  /** Fields `.kiln/project.toml` set (`commands.test`, `summary`, ...). */
  overridden: string[];
  /** What could not be read or was left out. */
  notes: string[];
  files: number | null;
  lines: number | null;
}

export interface ProjectKnowledge {
  project: string;
  commit: string;
  scanned_at: string;
  knowledge: Knowledge;
}
