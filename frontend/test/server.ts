// The API, mocked at the network level with MSW: HTTP handlers answering the fixtures and a
// WebSocket endpoint that replays a task's log from `after_seq`, like `/ws/logs`.
import { HttpResponse, http, ws } from 'msw';
import { setupServer } from 'msw/node';

import type { LogFrame, TaskList } from '../src/api/types';
import { DIFF, TASK_ID, deployedTask, pauseView, projectKnowledge, projects, session, summary, system, templates } from './fixtures';

/** Where the app's relative URLs point in tests (jsdom's document URL). */
export const ORIGIN = 'http://localhost:3000';
export const api = (path: string) => `${ORIGIN}/${path.replace(/^\//, '')}`;

export const problem = (status: number, slug: string, title: string, detail: string) =>
  HttpResponse.json({ type: `urn:kiln:problem:${slug}`, title, status, detail }, {
    status,
    headers: { 'content-type': 'application/problem+json' },
  });

/** The log the mocked `/ws/logs` serves; tests replace it. */
export const logState: { lines: LogFrame[]; connections: URL[] } = { lines: [], connections: [] };

export const logsSocket = ws.link('ws://localhost:3000/ws/logs');

export const handlers = [
  http.get(api('api/v1/templates'), () => HttpResponse.json(templates)),
  http.get(api('api/v1/projects'), () => HttpResponse.json({ items: projects })),
  http.get(api('api/v1/tasks'), () =>
    HttpResponse.json<TaskList>({ items: [summary(), summary({ id: 'other', project: 'pizzaboard', status: 'testing', finished_at: null })], next_cursor: null }),
  ),
  http.get(api('api/v1/tasks/:id'), ({ params }) =>
    params.id === TASK_ID ? HttpResponse.json(deployedTask()) : problem(404, 'task-not-found', 'Task not found', `no task with id ${String(params.id)}`),
  ),
  http.get(api('api/v1/tasks/:id/rounds/:round/diff'), () => HttpResponse.text(DIFF)),
  http.get(api('api/v1/system'), () => HttpResponse.json(system())),
  http.get(api('api/v1/system/pause'), () => HttpResponse.json(pauseView())),
  http.get(api('api/v1/session'), () => HttpResponse.json(session())),
  http.get(api('api/v1/audit'), () => HttpResponse.json({ items: [], next_cursor: null })),
  http.get(api('api/v1/projects/:name/memory'), () => HttpResponse.json({ items: [] })),
  http.get(api('api/v1/projects/:name/knowledge'), ({ params }) =>
    HttpResponse.json(projectKnowledge({ project: String(params.name) })),
  ),
  logsSocket.addEventListener('connection', ({ client }) => {
    logState.connections.push(new URL(client.url));
    const after = Number(client.url.searchParams.get('after_seq') ?? 0);
    for (const line of logState.lines) if (line.seq > after) client.send(JSON.stringify(line));
  }),
];

export const server = setupServer(...handlers);
