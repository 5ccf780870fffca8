// Renders the app (or part of it) as it runs: real router and query client, API mocked by MSW.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ReactElement } from 'react';
import { RouterProvider, createMemoryRouter } from 'react-router';

import { routes } from '../src/routes';

export function testClient() {
  return new QueryClient({
    defaultOptions: { queries: { retry: false, gcTime: Infinity }, mutations: { retry: false } },
  });
}

/** The whole app at `path`. */
export function renderApp(path: string) {
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  const client = testClient();
  const view = render(
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return { ...view, router, client };
}

/** One component with a query client. */
export function renderWithClient(ui: ReactElement) {
  const client = testClient();
  return { ...render(<QueryClientProvider client={client}>{ui}</QueryClientProvider>), client };
}
