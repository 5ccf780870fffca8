// Server state through TanStack Query: one hook per resource, polling while things move, and
// mutations that refresh what they change.
import {
  keepPreviousData,
  useInfiniteQuery,
  useMutation,
  useQueries,
  useQuery,
  useQueryClient,
  type QueryClient,
} from '@tanstack/react-query';

import { ApiError, randomKey, request, requestText } from './client';
import { parseProjectKnowledge } from './knowledge';
import { setCsrfToken } from './session';
import { isTerminal } from './status';
import type {
  AuditPage,
  BudgetLimits,
  CreatedToken,
  CreateTask,
  Lesson,
  PauseView,
  Project,
  ProjectKnowledge,
  ProjectKnowledgeView,
  ProjectList,
  SearchMode,
  SearchResult,
  SessionView,
  SetPause,
  SystemView,
  TaskDetail,
  TaskList,
  TemplateList,
  TokenView,
} from './types';

export const keys = {
  tasks: ['tasks'] as const,
  taskList: (filters: TaskFilters) => ['tasks', 'list', filters] as const,
  task: (id: string) => ['tasks', 'detail', id] as const,
  templates: ['templates'] as const,
  projects: ['projects'] as const,
  system: ['system'] as const,
  diff: (id: string, round: number) => ['diff', id, round] as const,
  memory: (project: string) => ['memory', project] as const,
  session: ['session'] as const,
  pause: ['system', 'pause'] as const,
  audit: (filters: AuditFilters) => ['audit', filters] as const,
  tokens: ['tokens'] as const,
  search: (project: string, input: SearchInput | null) => ['search', project, input] as const,
  knowledge: (project: string) => ['knowledge', project] as const,
};

export interface AuditFilters {
  actor?: string;
  action?: string;
  source?: string;
  task_id?: string;
  limit?: number;
}

/** What a code search asks for; the API defaults to `k` 10 and `mode` hybrid. */
export interface SearchInput {
  q: string;
  k?: number;
  mode?: SearchMode;
}

export interface TaskFilters {
  status?: string;
  project?: string;
  limit?: number;
}

/** How often lists and a moving task refresh, in ms. */
export const POLL = { list: 3000, activeTask: 1500, finishedTask: 15_000, system: 5000, projects: 10_000 };

function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Tasks newest first, page by page (cursor paging), refreshed while shown. */
export function useTasks(filters: TaskFilters) {
  return useInfiniteQuery({
    queryKey: keys.taskList(filters),
    queryFn: ({ pageParam, signal }) =>
      request<TaskList>(
        `api/v1/tasks${query({ status: filters.status, project: filters.project, limit: filters.limit, cursor: pageParam })}`,
        { signal },
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    refetchInterval: POLL.list,
    placeholderData: keepPreviousData,
  });
}

export function useTask(id: string) {
  return useQuery({
    queryKey: keys.task(id),
    queryFn: ({ signal }) => request<TaskDetail>(`api/v1/tasks/${encodeURIComponent(id)}`, { signal }),
    refetchInterval: (q) => {
      const data = q.state.data;
      if (q.state.error instanceof ApiError && q.state.error.status === 404) return false;
      return data && isTerminal(data.status) ? POLL.finishedTask : POLL.activeTask;
    },
  });
}

/** Full records of several tasks (a project page's recent tasks, for their deployments). */
export function useTaskDetails(ids: string[]) {
  return useQueries({
    queries: ids.map((id) => ({
      queryKey: keys.task(id),
      queryFn: ({ signal }: { signal: AbortSignal }) =>
        request<TaskDetail>(`api/v1/tasks/${encodeURIComponent(id)}`, { signal }),
      refetchInterval: POLL.projects,
    })),
  });
}

export function useTemplates() {
  return useQuery({
    queryKey: keys.templates,
    queryFn: ({ signal }) => request<TemplateList>('api/v1/templates', { signal }),
    staleTime: 60_000,
  });
}

export function useProjects() {
  return useQuery({
    queryKey: keys.projects,
    queryFn: ({ signal }) => request<ProjectList>('api/v1/projects', { signal }),
    refetchInterval: POLL.projects,
    select: (list) => list.items as Project[],
  });
}

export function useSystem() {
  return useQuery({
    queryKey: keys.system,
    queryFn: ({ signal }) => request<SystemView>('api/v1/system', { signal }),
    refetchInterval: POLL.system,
  });
}

/** A round's unified diff; a commit never changes, so it is fetched once. */
export function useDiff(id: string, round: number, enabled: boolean) {
  return useQuery({
    queryKey: keys.diff(id, round),
    queryFn: ({ signal }) => requestText(`api/v1/tasks/${encodeURIComponent(id)}/rounds/${round}/diff`, { signal }),
    staleTime: Infinity,
    enabled,
  });
}

/** Whether an error means "this API has no such endpoint yet" rather than a real failure. */
export function isMissingRoute(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404 && error.kind === 'not-found';
}

/** A project's memory lessons; `undefined` data while the API has no memory endpoint. */
export function useMemory(project: string) {
  return useQuery({
    queryKey: keys.memory(project),
    queryFn: async ({ signal }) => {
      const body = await request<Lesson[] | { items: Lesson[] }>(
        `api/v1/projects/${encodeURIComponent(project)}/memory`,
        { signal },
      );
      return Array.isArray(body) ? body : body.items;
    },
  });
}

/** A code search of a project's base branch, run once there is something to look for (the
 *  search form sets `input` on submit). Failures are not retried: a 409 (nothing indexed yet)
 *  or 503 (no indexer) will not change by asking again at once, and the person can resubmit. */
export function useSearch(project: string, input: SearchInput | null) {
  return useQuery({
    queryKey: keys.search(project, input),
    queryFn: ({ signal }) =>
      request<SearchResult>(
        `api/v1/projects/${encodeURIComponent(project)}/search${query({ q: input?.q, k: input?.k, mode: input?.mode })}`,
        { signal },
      ),
    enabled: Boolean(input?.q.trim()),
    staleTime: 30_000,
    retry: false,
    refetchOnWindowFocus: false,
  });
}

/** What Kiln learned about the head of a project's base branch, parsed defensively (the
 *  record was read from the repository). A 404 (nothing scanned yet) is not retried (the
 *  default for client errors) nor polled: asking makes the API ask an indexer, which can take
 *  a while; the answer is fetched again when it goes stale and the window regains focus. */
export function useKnowledge(project: string) {
  return useQuery({
    queryKey: keys.knowledge(project),
    queryFn: async ({ signal }): Promise<ProjectKnowledge> =>
      parseProjectKnowledge(
        await request<ProjectKnowledgeView>(`api/v1/projects/${encodeURIComponent(project)}/knowledge`, { signal }),
      ),
    staleTime: 60_000,
  });
}

// ---- mutations

function refreshTask(client: QueryClient, id: string, task?: TaskDetail) {
  if (task && typeof task === 'object' && 'id' in task) client.setQueryData(keys.task(id), task);
  void client.invalidateQueries({ queryKey: keys.tasks });
}

export function useCreateTask() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: CreateTask) =>
      request<TaskDetail>('api/v1/tasks', {
        method: 'POST',
        json: body,
        headers: { 'idempotency-key': randomKey() },
      }),
    onSuccess: (task) => {
      client.setQueryData(keys.task(task.id), task);
      void client.invalidateQueries({ queryKey: keys.tasks });
      void client.invalidateQueries({ queryKey: keys.projects });
    },
  });
}

function useTaskAction<V>(id: string, path: string, body: (v: V) => unknown) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (v: V) =>
      request<TaskDetail | undefined>(`api/v1/tasks/${encodeURIComponent(id)}/${path}`, {
        method: 'POST',
        json: body(v),
      }),
    onSuccess: (task) => refreshTask(client, id, task),
  });
}

export function useCancelTask(id: string) {
  return useTaskAction<void>(id, 'cancel', () => undefined);
}

export interface ApproveInput {
  reason?: string;
  budget?: BudgetLimits;
}

export function useApprove(id: string) {
  return useTaskAction<ApproveInput>(id, 'approve', (v) => ({ actor: 'dashboard', ...v }));
}

export function useReject(id: string) {
  return useTaskAction<{ feedback: string }>(id, 'reject', (v) => ({ actor: 'dashboard', ...v }));
}

export function useAnswer(id: string) {
  return useTaskAction<{ answers: { id: string; answer: string }[] }>(id, 'answers', (v) => v);
}

function useLessonMutation<V>(project: string, run: (base: string, v: V) => Promise<unknown>) {
  const client = useQueryClient();
  const base = `api/v1/projects/${encodeURIComponent(project)}/memory`;
  return useMutation({
    mutationFn: (v: V) => run(base, v),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.memory(project) }),
  });
}

export function useAddLesson(project: string) {
  return useLessonMutation<{ lesson: string }>(project, (base, v) => request(base, { method: 'POST', json: v }));
}

export function useUpdateLesson(project: string) {
  return useLessonMutation<{ id: string; lesson: string }>(project, (base, v) =>
    request(`${base}/${encodeURIComponent(v.id)}`, { method: 'PUT', json: { lesson: v.lesson } }),
  );
}

export function useDeleteLesson(project: string) {
  return useLessonMutation<{ id: string }>(project, (base, v) =>
    request(`${base}/${encodeURIComponent(v.id)}`, { method: 'DELETE' }),
  );
}

// ---- the kill switch

/** Every pause in force (global and per project), refreshed with the system view. */
export function usePause() {
  return useQuery({
    queryKey: keys.pause,
    queryFn: ({ signal }) => request<PauseView>('api/v1/system/pause', { signal }),
    refetchInterval: POLL.system,
  });
}

/** Pauses or resumes everything or one project; the answer says which workers heard it. */
export function useSetPaused() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: SetPause) => request<PauseView>('api/v1/system/pause', { method: 'PUT', json: body }),
    onSuccess: (view) => {
      if (view && typeof view === 'object') client.setQueryData(keys.pause, view);
      void client.invalidateQueries({ queryKey: keys.system, exact: true });
      void client.invalidateQueries({ queryKey: keys.tasks });
    },
  });
}

// ---- signing in

/** Who is signed in; remembers the session's CSRF token for mutations. */
export function useSession() {
  return useQuery({
    queryKey: keys.session,
    queryFn: async ({ signal }) => {
      const session = await request<SessionView>('api/v1/session', { signal });
      if (session.csrf) setCsrfToken(session.csrf);
      return session;
    },
    staleTime: 60_000,
  });
}

/** Signs in with an API token's secret; the API sets the session cookies. */
export function useSignIn() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (token: string) =>
      request<SessionView>('api/v1/session', { method: 'POST', json: { token }, authRedirect: false }),
    onSuccess: (session) => {
      setCsrfToken(session.csrf);
      // Nothing fetched under another (or no) identity is shown after signing in.
      client.removeQueries();
      client.setQueryData(keys.session, session);
    },
  });
}

/** Ends the session (the API clears the cookies). The sign-in page, shown next, forgets
 *  everything fetched while signed in. */
export function useSignOut() {
  return useMutation({
    mutationFn: () => request<void>('api/v1/session', { method: 'DELETE', authRedirect: false }),
    onSettled: () => setCsrfToken(null),
  });
}

// ---- the audit trail

/** Audit entries newest first, filtered on the server, paged to older by cursor. */
export function useAudit(filters: AuditFilters) {
  return useInfiniteQuery({
    queryKey: keys.audit(filters),
    queryFn: ({ pageParam, signal }) =>
      request<AuditPage>(`api/v1/audit${query({ ...filters, cursor: pageParam })}`, { signal }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
    placeholderData: keepPreviousData,
  });
}

// ---- tokens (admins)

export function useTokens(enabled = true) {
  return useQuery({
    queryKey: keys.tokens,
    queryFn: ({ signal }) => request<TokenView[]>('api/v1/tokens', { signal }),
    enabled,
  });
}

export function useCreateToken() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: { name: string; role: string }) =>
      request<CreatedToken>('api/v1/tokens', { method: 'POST', json: body }),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.tokens }),
  });
}

export function useRevokeToken() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => request<void>(`api/v1/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' }),
    onSuccess: () => client.invalidateQueries({ queryKey: keys.tokens }),
  });
}
