// One project: its current URL, deployments across its tasks, memory lessons (when the API
// has project memory) and recent tasks.
import { useState } from 'react';
import { Link, useParams } from 'react-router';

import {
  isMissingRoute,
  useAddLesson,
  useDeleteLesson,
  useMemory,
  useProjects,
  useTaskDetails,
  useTasks,
  useUpdateLesson,
} from '../api/queries';
import type { Deployment, Lesson } from '../api/types';
import { ExternalIcon } from '../components/icons';
import {
  Button,
  Card,
  Empty,
  ErrorNotice,
  ExternalLink,
  Loading,
  OutcomeChip,
  PageHeader,
  RelativeTime,
  StatusChip,
  TextArea,
  useTitle,
} from '../components/ui';
import { shortSha } from '../lib/format';

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
            {project.template} · created <RelativeTime iso={project.created_at} />
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
      </div>
    </div>
  );
}
