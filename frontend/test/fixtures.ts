// JSON the API answers with, captured from a real offline-mode run and extended with the
// fields that are announced but not in the API yet (clarifications, awaiting, budget, ...).
import type {
  AuditEntry,
  LogFrame,
  PauseView,
  Project,
  ProjectKnowledgeView,
  SessionView,
  SystemView,
  TaskDetail,
  TaskSummary,
  TemplateList,
} from '../src/api/types';

export const TASK_ID = '01a1fb48-821e-74ac-a8e4-1d5ecb85fb86';
export const SHA0 = '537bd2edddc9ab05fbe61827054eda1a62fefd6e';
export const SHA1 = '9c1e0d7a5b3f2e1d0c9b8a7f6e5d4c3b2a190817';

export const templates: TemplateList = {
  items: [
    {
      name: 'node-express',
      title: 'Node.js + Express',
      description: 'Server-rendered Express app with EJS views and node:test tests',
      stack: 'node',
      requires: ['node', 'npm'],
      deploy: ['local'],
      registries: ['https://registry.npmjs.org/'],
      database: null,
      missing_toolchains: [],
      unreachable_registries: [],
      available: true,
    },
    {
      name: 'static-site',
      title: 'Static site',
      description: 'Plain HTML and CSS site built with POSIX sh, no package manager',
      stack: 'static',
      requires: ['sh'],
      deploy: ['local'],
      registries: [],
      database: null,
      missing_toolchains: [],
      unreachable_registries: [],
      available: true,
    },
  ],
};

const base: TaskSummary = {
  id: TASK_ID,
  project: 'bakery',
  kind: 'new_app',
  template: 'static-site',
  brief: 'A landing page for a bakery with opening hours, a cake gallery and a contact form.',
  options: {},
  status: 'deployed',
  status_reason: null,
  llm_mode: 'offline',
  branch: `kiln/${TASK_ID}`,
  created_at: '2026-11-20T23:26:35.550Z',
  updated_at: '2026-11-20T23:26:35.967Z',
  finished_at: '2026-11-20T23:26:35.967Z',
  deployment_url: 'http://127.0.0.1:18181/apps/bakery/',
};

export function summary(over: Partial<TaskSummary> = {}): TaskSummary {
  return { ...base, ...over };
}

const verification = {
  ok: true,
  checks: [
    { name: 'health', ok: true, detail: 'GET http://127.0.0.1:18181/apps/bakery/ answered 200 OK' },
    { name: 'version', ok: true, detail: `served "${SHA0}"` },
  ],
};

/** A deployed offline task exactly as the API returns it. */
export function deployedTask(over: Partial<TaskDetail> = {}): TaskDetail {
  return {
    ...base,
    stages: [
      stage('plan', 0, '2026-11-20T23:26:35.573Z', 12, 'succeeded', '3 stories planned'),
      stage('codegen', 0, '2026-11-20T23:26:35.603Z', 149, 'succeeded', 'committed 537bd2edddc9 (6 files, +324 -0)'),
      stage('test', 0, '2026-11-20T23:26:35.761Z', 72, 'succeeded', '2 commands passed'),
      stage('review', 0, '2026-11-20T23:26:35.841Z', 32, 'succeeded', 'pass: 0 findings'),
      stage('gate', 0, '2026-11-20T23:26:35.882Z', 6, 'succeeded', 'approved'),
      stage('deploy', 0, '2026-11-20T23:26:35.898Z', 69, 'succeeded', 'live and verified'),
    ],
    plan: {
      epic: 'A landing page for a bakery',
      planner: 'offline',
      stories: [
        {
          title: 'Opening hours',
          description: 'As a user, I want opening hours so that the app does what the brief asks.',
          acceptance: ['The home page presents "Opening hours"', 'The page loads successfully from the deployed URL'],
        },
        { title: 'A cake gallery', description: '', acceptance: ['The home page presents "A cake gallery"'] },
      ],
    },
    commits: [
      {
        round: 0,
        sha: SHA0,
        branch: base.branch,
        message: 'kiln: scaffold bakery from static-site\n\nKiln-Round: 0\n',
        files_changed: 6,
        insertions: 324,
        deletions: 0,
      },
    ],
    test_runs: [
      {
        round: 0,
        commit_sha: SHA0,
        passed: true,
        error: null,
        started_at: '2026-11-20T23:26:35.767Z',
        finished_at: '2026-11-20T23:26:35.829Z',
        commands: [
          { phase: 'build', command: 'sh build.sh', exit_code: 0, timed_out: false, duration_ms: 8, output_tail: 'build: wrote dist/\n', limit_hit: null },
          { phase: 'test', command: 'sh test.sh', exit_code: 0, timed_out: false, duration_ms: 16, output_tail: 'test: all checks passed\n', limit_hit: null },
        ],
        isolation: 'bubblewrap',
      },
    ],
    reviews: [{ round: 0, reviewer: 'deterministic', verdict: 'pass', summary: 'pass: 0 findings over 6 files', findings: [] }],
    gate: {
      round: 0,
      decision: 'approved',
      decided_by: 'gate',
      reasons: [
        { code: 'tests_passed', kind: 'info', message: '2 install/build/test commands passed' },
        { code: 'review_passed', kind: 'info', message: 'reviewer deterministic passed the change' },
      ],
    },
    deployment: {
      url: 'http://127.0.0.1:18181/apps/bakery/',
      status: 'live',
      commit_sha: SHA0,
      target: 'local',
      verification,
      created_at: '2026-11-20T23:26:35.967Z',
    },
    deployments: [
      {
        url: 'http://127.0.0.1:18181/apps/bakery/',
        status: 'live',
        commit_sha: SHA0,
        target: 'local',
        verification,
        created_at: '2026-11-20T23:26:35.967Z',
      },
    ],
    llm_usage: { mode: 'offline', calls: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0, cost_usd: 0, by_stage: [] },
    clarifications: [],
    awaiting: null,
    budget: null,
    rounds: [{ round: 0, commit_sha: SHA0, test_passed: true, errors: [], fingerprint: null, stop_reason: null }],
    approvals: [],
    ...over,
  };
}

/** The same task from an API before people in the loop: those fields are absent. */
export function legacyTask(): TaskDetail {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { clarifications, awaiting, budget, rounds, approvals, ...rest } = deployedTask();
  return { ...rest, llm_usage: { mode: 'offline', calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 } as TaskDetail['llm_usage'] };
}

export function stage(
  name: string,
  round: number,
  started: string,
  ms: number | null,
  status: string,
  summary: string | null,
  attempt = 1,
) {
  return {
    stage: name,
    round,
    attempt,
    status,
    summary,
    worker: `${name}.1`,
    started_at: started,
    finished_at: ms === null ? null : new Date(Date.parse(started) + ms).toISOString(),
    duration_ms: ms,
  };
}

/** A task waiting for a release approval, with every announced field filled in. */
export function awaitingTask(over: Partial<TaskDetail> = {}): TaskDetail {
  const t = deployedTask();
  return {
    ...t,
    status: 'awaiting_release_approval',
    finished_at: null,
    deployment_url: null,
    deployment: null,
    deployments: [],
    options: { approval: 'release', budget: { max_cost_usd: 2.5 }, max_fix_rounds: 3 },
    stages: [
      ...t.stages.slice(0, 3),
      stage('codegen', 1, '2026-11-20T23:26:36.000Z', 200, 'succeeded', 'fix round 1'),
      stage('test', 1, '2026-11-20T23:26:36.300Z', 90, 'succeeded', '2 commands passed'),
      stage('review', 1, '2026-11-20T23:26:36.400Z', 30, 'succeeded', 'concerns'),
      stage('gate', 1, '2026-11-20T23:26:36.450Z', null, 'running', null),
    ],
    commits: [...t.commits, { ...t.commits[0]!, round: 1, sha: SHA1, message: 'kiln: fix round 1' }],
    test_runs: [
      { ...t.test_runs[0]!, passed: false, commands: [{ ...t.test_runs[0]!.commands[1]!, exit_code: 1, output_tail: 'test: FAIL: no <title>\n' }] },
      { ...t.test_runs[0]!, round: 1, commit_sha: SHA1 },
    ],
    reviews: [
      {
        round: 1,
        reviewer: 'security',
        verdict: 'concerns',
        summary: 'one finding',
        findings: [{ rule: 'inline-script', severity: 'medium', file: 'index.html', line: 12, message: 'inline script without a nonce' }],
      },
    ],
    gate: null,
    clarifications: [
      { id: 'q1', question: 'Which opening hours?', answer: 'Mon–Sat 7–19', asked_at: '2026-11-20T23:26:35.580Z', answered_at: '2026-11-20T23:26:35.590Z' },
      { id: 'q2', question: 'Should the contact form send email?', answer: null, asked_at: '2026-11-20T23:26:35.600Z', answered_at: null },
    ],
    awaiting: {
      kind: 'release_approval',
      since: '2026-11-20T23:26:36.500Z',
      detail: 'the gate approved round 1; deploying needs a person',
      figures: { findings: 1, cost_usd: 0.42 },
    },
    budget: { limits: { max_tokens: 100_000, max_cost_usd: 2.5, max_calls: 0 }, used: { tokens: 85_000, cost_usd: 0.42, calls: 12 } },
    llm_usage: {
      mode: 'openai',
      calls: 12,
      input_tokens: 60_000,
      output_tokens: 25_000,
      cost_usd: 0.42,
      cached_tokens: 10_000,
      by_stage: [
        { stage: 'plan', calls: 2, input_tokens: 10_000, output_tokens: 5_000, cost_usd: 0.08 },
        { stage: 'codegen', calls: 10, input_tokens: 50_000, output_tokens: 20_000, cost_usd: 0.34 },
      ],
    },
    rounds: [
      {
        round: 0,
        commit_sha: SHA0,
        test_passed: false,
        fingerprint: 'a1b2c3d4e5f60718',
        stop_reason: null,
        errors: [{ file: 'dist/index.html', line: 1, column: null, message: 'no non-empty <title>', tool: 'test.sh', command: 'sh test.sh' }],
      },
      { round: 1, commit_sha: SHA1, test_passed: true, fingerprint: null, errors: [], stop_reason: null },
    ],
    approvals: [{ kind: 'plan', decision: 'approve', actor: 'ada', reason: 'looks right', created_at: '2026-11-20T23:26:35.595Z' }],
    ...over,
  };
}

export const projects: Project[] = [
  {
    name: 'bakery',
    template: 'static-site',
    source_url: null,
    created_at: '2026-11-20T23:26:35.550Z',
    deployment_url: 'http://127.0.0.1:18181/apps/bakery/',
    last_task_id: TASK_ID,
    last_status: 'deployed',
  },
  {
    name: 'pizzaboard',
    template: 'node-express',
    source_url: null,
    created_at: '2026-11-20T23:20:00.000Z',
    deployment_url: null,
    last_task_id: '01a1fb3d-40d7-74f3-90cd-d20b70728859',
    last_status: 'failed',
  },
];

/** A knowledge record as kiln-knowledge serializes it (serde's default field names). */
export function knowledgeRecord(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    languages: [
      { name: 'typescript', files: 42, lines: 3120, percent: 78.4 },
      { name: 'css', files: 6, lines: 860, percent: 21.6 },
    ],
    build_systems: [{ name: 'npm', manifest: 'package.json', root: '.', workspace: false }],
    frameworks: ['express', 'react'],
    commands: {
      install: 'npm ci',
      build: 'npm run build',
      test: 'npm test',
      lint: 'npm run lint',
      run: null,
      no_tests: false,
      sources: { install: 'package-lock.json', build: 'package.json scripts.build', test: 'override', lint: 'package.json scripts.lint', run: null },
    },
    entry_points: ['src/server.ts', 'src/main.tsx'],
    directories: [{ path: 'src', files: 40, lines: 3000, role: 'source' }],
    conventions: {
      tools: [{ name: 'prettier', kind: 'formatter', path: '.prettierrc' }],
      test_layout: 'tests beside code',
      test_patterns: [{ pattern: '*.test.ts', files: 12 }],
      commit_style: { style: 'conventional commits', matching: 9, total: 10, example: 'feat: add opening hours' },
      ci: [{ system: 'github-actions', path: '.github/workflows/ci.yml' }],
    },
    secrets: [{ path: '.env', reason: 'environment file' }],
    summary: 'A bakery storefront: an Express server rendering a React front end.',
    summary_source: 'outline',
    deploy: null,
    protected_paths: [],
    ignore: [],
    overridden: ['commands.test'],
    notes: [],
    files: 61,
    lines: 4200,
    ...over,
  };
}

export function projectKnowledge(over: Partial<ProjectKnowledgeView> = {}): ProjectKnowledgeView {
  return { project: 'bakery', commit: SHA0, scanned_at: '2026-11-20T23:27:00Z', knowledge: knowledgeRecord(), ...over };
}

export function system(over: Partial<SystemView> = {}): SystemView {
  return {
    services: [
      { service: 'api', replicas: [{ worker: 'api.1', started_at: '2026-11-20T23:00:00Z', last_seen: new Date().toISOString(), alive: true, warnings: [] }] },
      {
        service: 'codegen',
        replicas: [
          { worker: 'codegen.1', started_at: '2026-11-20T23:00:00Z', last_seen: new Date().toISOString(), alive: true, warnings: [] },
          { worker: 'codegen.2', started_at: '2026-11-20T23:00:00Z', last_seen: '2026-11-20T23:01:00Z', alive: false, warnings: [] },
        ],
      },
      { service: 'tester', replicas: [] },
      {
        service: 'indexer',
        replicas: [
          {
            worker: 'indexer.1',
            started_at: '2026-11-20T23:00:00Z',
            last_seen: new Date().toISOString(),
            alive: true,
            warnings: ['dense retrieval is off, results are BM25 only: the embedding model file /m/model.onnx is missing'],
          },
        ],
      },
    ],
    stages: [
      { stage: 'plan', consumer: 'plan', pending: 0, ack_pending: 0, redelivered: 0 },
      { stage: 'codegen', consumer: 'codegen', pending: 4, ack_pending: 2, redelivered: 1 },
      { stage: 'index', consumer: 'indexer', pending: null, ack_pending: null, redelivered: null },
    ],
    dead_letters: {
      count: 1,
      recent: [{ stage: 'test', task_id: TASK_ID, reason: 'sandbox: npm not found', deliveries: 5, time: '2026-11-20T23:10:00Z' }],
    },
    paused: false,
    ...over,
  };
}

export function frames(from: number, to: number, stageName = 'test'): LogFrame[] {
  const out: LogFrame[] = [];
  for (let seq = from; seq <= to; seq++) {
    out.push({
      seq,
      time: new Date(Date.UTC(2026, 10, 20, 23, 26, 35, seq % 1000)).toISOString(),
      level: seq % 50 === 0 ? 'error' : seq % 10 === 0 ? 'warn' : 'info',
      service: 'tester',
      stage: stageName,
      message: `line ${seq}`,
    });
  }
  return out;
}

export const DIFF = `diff --git a/index.html b/index.html
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/index.html
@@ -0,0 +1,2 @@
+<h1>Bakery</h1>
+<p>Open 7-19</p>
diff --git a/styles.css b/styles.css
index 1111111..2222222 100644
--- a/styles.css
+++ b/styles.css
@@ -1,2 +1,2 @@
-body { color: black }
+body { color: #222 }
 h1 { margin: 0 }
`;

export const CSRF = 'csrf-4f1c9a';

export function session(over: Partial<SessionView> = {}): SessionView {
  return { name: 'ada', role: 'admin', csrf: CSRF, ...over };
}

export function pauseView(over: Partial<PauseView> = {}): PauseView {
  return { paused: false, reason: null, actor: null, since: null, projects: [], reached: [], reach_ms: null, resumed_tasks: 0, ...over };
}

export function auditEntry(id: number, over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    id,
    at: new Date(Date.UTC(2026, 10, 20, 23, 0, id % 60)).toISOString(),
    actor: 'ada',
    source: 'dashboard',
    action: 'release.approve',
    target: TASK_ID,
    reason: null,
    request_id: `req-${id}`,
    task_id: TASK_ID,
    detail: {},
    ...over,
  };
}
