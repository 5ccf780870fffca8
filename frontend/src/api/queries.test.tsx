import { QueryClientProvider } from '@tanstack/react-query';
import { act, renderHook, waitFor } from '@testing-library/react';
import { HttpResponse, http } from 'msw';
import type { ReactNode } from 'react';
import { describe, expect, it } from 'vitest';

import { summary } from '../../test/fixtures';
import { testClient } from '../../test/render';
import { api, problem, server } from '../../test/server';
import { ApiError } from './client';
import { isMissingRoute, useMemory, useTask, useTasks } from './queries';
import type { TaskList } from './types';

function wrapper({ children }: { children: ReactNode }) {
  return <QueryClientProvider client={testClient()}>{children}</QueryClientProvider>;
}

describe('useTasks', () => {
  it('sends the filters and follows next_cursor page by page', async () => {
    const seen: string[] = [];
    server.use(
      http.get(api('api/v1/tasks'), ({ request }) => {
        const q = new URL(request.url).searchParams;
        seen.push(q.toString());
        return HttpResponse.json<TaskList>(
          q.get('cursor') === 'c2'
            ? { items: [summary({ id: 'b' })], next_cursor: null }
            : { items: [summary({ id: 'a' })], next_cursor: 'c2' },
        );
      }),
    );
    const { result } = renderHook(() => useTasks({ status: 'failed', project: 'bakery', limit: 1 }), { wrapper });
    await waitFor(() => expect(result.current.data?.pages).toHaveLength(1));
    expect(result.current.hasNextPage).toBe(true);
    await act(() => result.current.fetchNextPage());
    await waitFor(() => expect(result.current.data!.pages.flatMap((p) => p.items.map((t) => t.id))).toEqual(['a', 'b']));
    expect(result.current.hasNextPage).toBe(false);
    expect(seen).toEqual(['status=failed&project=bakery&limit=1', 'status=failed&project=bakery&limit=1&cursor=c2']);
  });
});

describe('useTask', () => {
  it('fails with the problem of an unknown task', async () => {
    const { result } = renderHook(() => useTask('nope'), { wrapper });
    await waitFor(() => expect(result.current.isError).toBe(true));
    expect(result.current.error).toBeInstanceOf(ApiError);
    expect((result.current.error as ApiError).kind).toBe('task-not-found');
  });
});

describe('useMemory', () => {
  it('reads {items} and tells a missing endpoint from a real failure', async () => {
    const { result } = renderHook(() => useMemory('bakery'), { wrapper });
    await waitFor(() => expect(result.current.data).toEqual([]));

    server.use(http.get(api('api/v1/projects/:name/memory'), () => problem(404, 'not-found', 'Not found', 'no route for /api/v1/projects/x/memory')));
    const missing = renderHook(() => useMemory('x'), { wrapper });
    await waitFor(() => expect(missing.result.current.isError).toBe(true));
    expect(isMissingRoute(missing.result.current.error)).toBe(true);

    server.use(http.get(api('api/v1/projects/:name/memory'), () => problem(404, 'project-not-found', 'Project not found', 'no project "y"')));
    const unknown = renderHook(() => useMemory('y'), { wrapper });
    await waitFor(() => expect(unknown.result.current.isError).toBe(true));
    expect(isMissingRoute(unknown.result.current.error)).toBe(false);
  });
});
