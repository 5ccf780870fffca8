import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { HttpResponse, http, type JsonBodyType } from 'msw';
import { describe, expect, it } from 'vitest';

import type { Lesson, SearchResult } from '../api/types';
import { SHA0, TASK_ID, deployedTask, knowledgeRecord, projectKnowledge, projects, summary } from '../../test/fixtures';
import { renderApp } from '../../test/render';
import { api, problem, server } from '../../test/server';

describe('Projects', () => {
  it('lists every project with its status and URL', async () => {
    renderApp('/projects');
    const cards = await screen.findAllByTestId('project-card');
    expect(cards).toHaveLength(2);
    expect(within(cards[0]!).getByRole('link', { name: 'bakery' })).toHaveAttribute('href', '/projects/bakery');
    expect(within(cards[0]!).getByRole('link', { name: /apps\/bakery/ })).toHaveAttribute('href', 'http://127.0.0.1:18181/apps/bakery/');
    expect(within(cards[1]!).getByTestId('status')).toHaveTextContent('failed');
    expect(within(cards[1]!).getByText('not deployed')).toBeInTheDocument();
  });

  it('shows a project with deployments and recent tasks, and no memory panel on an API without memory', async () => {
    const asked: string[] = [];
    server.use(
      http.get(api('api/v1/projects/:name/memory'), ({ request }) =>
        problem(404, 'not-found', 'Not found', `no route for ${new URL(request.url).pathname}`),
      ),
      http.get(api('api/v1/tasks'), ({ request }) => {
        asked.push(new URL(request.url).search);
        return HttpResponse.json({ items: [summary()], next_cursor: null });
      }),
      http.get(api(`api/v1/tasks/${TASK_ID}`), () =>
        HttpResponse.json(
          deployedTask({
            deployments: [
              { ...deployedTask().deployment!, status: 'rolled_back', commit_sha: 'aaaaaaaaaaaa1111', created_at: '2026-11-20T23:20:00Z' },
              deployedTask().deployment!,
            ],
          }),
        ),
      ),
    );
    renderApp('/projects/bakery');
    expect(await screen.findByRole('heading', { level: 1, name: 'bakery' })).toBeInTheDocument();
    expect(asked[0]).toContain('project=bakery');
    const deployments = screen.getByRole('region', { name: 'Deployments' });
    await waitFor(() => expect(within(deployments).getAllByRole('listitem')).toHaveLength(2));
    const [newest, older] = within(deployments).getAllByRole('listitem');
    expect(newest).toHaveTextContent(SHA0.slice(0, 12));
    expect(newest).toHaveTextContent('live');
    expect(older).toHaveTextContent('rolled back');
    expect(within(screen.getByRole('region', { name: 'Recent tasks' })).getByRole('link', { name: /bakery with opening hours/ })).toHaveAttribute(
      'href',
      `/tasks/${TASK_ID}`,
    );
    await waitFor(() => expect(screen.queryByRole('region', { name: 'Memory' })).not.toBeInTheDocument());
  });

  it('says when a project has no lessons yet', async () => {
    renderApp('/projects/bakery');
    const memory = await screen.findByRole('region', { name: 'Memory' });
    expect(await within(memory).findByText('No lessons yet.')).toBeInTheDocument();
  });

  it('adds, edits and deletes memory lessons', async () => {
    const user = userEvent.setup();
    let lessons: Lesson[] = [
      { id: 'l1', lesson: 'Use the brand orange', source_task_id: TASK_ID, created_at: '2026-11-20T23:00:00Z', updated_at: '2026-11-20T23:00:00Z' },
    ];
    const calls: string[] = [];
    server.use(
      http.get(api('api/v1/projects/bakery/memory'), () => HttpResponse.json({ items: lessons })),
      http.post(api('api/v1/projects/bakery/memory'), async ({ request }) => {
        const { lesson } = (await request.json()) as { lesson: string };
        calls.push(`POST ${lesson}`);
        const l = { id: 'l2', lesson, source_task_id: null, created_at: new Date().toISOString(), updated_at: new Date().toISOString() };
        lessons = [...lessons, l];
        return HttpResponse.json(l, { status: 201 });
      }),
      http.put(api('api/v1/projects/bakery/memory/:id'), async ({ params, request }) => {
        const { lesson } = (await request.json()) as { lesson: string };
        calls.push(`PUT ${String(params.id)} ${lesson}`);
        lessons = lessons.map((l) => (l.id === params.id ? { ...l, lesson } : l));
        return HttpResponse.json(lessons.find((l) => l.id === params.id));
      }),
      http.delete(api('api/v1/projects/bakery/memory/:id'), ({ params }) => {
        calls.push(`DELETE ${String(params.id)}`);
        lessons = lessons.filter((l) => l.id !== params.id);
        return new HttpResponse(null, { status: 204 });
      }),
    );
    renderApp('/projects/bakery');
    const memory = await screen.findByRole('region', { name: 'Memory' });
    expect(await within(memory).findByText('Use the brand orange')).toBeInTheDocument();

    await user.type(within(memory).getByRole('textbox', { name: 'New lesson' }), 'Keep pages under 100 kB');
    await user.click(within(memory).getByRole('button', { name: 'Add lesson' }));
    expect(await within(memory).findByText('Keep pages under 100 kB')).toBeInTheDocument();

    await user.click(within(memory).getByRole('button', { name: 'Edit lesson: Use the brand orange' }));
    const box = within(memory).getByRole('textbox', { name: 'Lesson' });
    await user.clear(box);
    await user.type(box, 'Use the brand orange #c2410c');
    await user.click(within(memory).getByRole('button', { name: 'Save' }));
    expect(await within(memory).findByText('Use the brand orange #c2410c')).toBeInTheDocument();

    await user.click(within(memory).getByRole('button', { name: 'Delete lesson: Keep pages under 100 kB' }));
    await waitFor(() => expect(within(memory).queryByText('Keep pages under 100 kB')).not.toBeInTheDocument());
    expect(calls).toEqual(['POST Keep pages under 100 kB', 'PUT l1 Use the brand orange #c2410c', 'DELETE l2']);
  });
});

function searchResult(over: Partial<SearchResult> = {}): SearchResult {
  return {
    project: 'bakery',
    commit: SHA0,
    mode: 'hybrid',
    files: [
      { path: 'src/cart.rs', score: 0.0328, chunks: 2 },
      { path: 'src/checkout.rs', score: 0.0161, chunks: 1 },
    ],
    snippets: [
      {
        path: 'src/cart.rs',
        start_line: 8,
        end_line: 12,
        lang: 'rust',
        symbols: ['Cart', 'Cart::total'],
        score: 0.0328,
        text: 'impl Cart {\n    pub fn total(&self) -> u64 {\n        self.items.iter().map(|i| i.price).sum()\n    }\n}',
      },
      {
        path: 'src/checkout.rs',
        start_line: 1,
        end_line: 3,
        lang: 'rust',
        symbols: ['checkout'],
        score: 0.0161,
        text: 'pub fn checkout(cart: &Cart) -> u64 {\n    cart.total()\n}',
      },
    ],
    tokens: 61,
    took_ms: 42,
    ...over,
  };
}

describe('Project code search', () => {
  async function searchFor(text: string) {
    const user = userEvent.setup();
    renderApp('/projects/bakery');
    const panel = await screen.findByRole('region', { name: 'Search code' });
    const button = within(panel).getByRole('button', { name: 'Search' });
    expect(button).toBeDisabled();
    await user.type(within(panel).getByRole('searchbox', { name: 'Search for' }), text);
    await user.click(button);
    return { user, panel };
  }

  it('searches on submit and shows the ranked files with their snippets, symbols and mode', async () => {
    const asked: URLSearchParams[] = [];
    server.use(
      http.get(api('api/v1/projects/bakery/search'), ({ request }) => {
        asked.push(new URL(request.url).searchParams);
        return HttpResponse.json(searchResult());
      }),
    );
    const user = userEvent.setup();
    renderApp('/projects/bakery');
    const panel = await screen.findByRole('region', { name: 'Search code' });
    const box = within(panel).getByRole('searchbox', { name: 'Search for' });
    await user.type(box, '  cart total ');
    // Typing alone asks nothing.
    expect(asked).toHaveLength(0);
    await user.selectOptions(within(panel).getByRole('combobox', { name: 'Ranking' }), 'sparse');
    await user.click(within(panel).getByRole('button', { name: 'Search' }));

    const files = await within(panel).findAllByTestId('search-file');
    expect(asked).toHaveLength(1);
    expect(asked[0]!.get('q')).toBe('cart total');
    expect(asked[0]!.get('mode')).toBe('sparse');
    expect(files.map((f) => within(f).getByTestId('search-file-path').textContent)).toEqual(['src/cart.rs', 'src/checkout.rs']);
    expect(within(files[0]!).getByText('src/cart.rs:8-12')).toBeInTheDocument();
    expect(within(files[1]!).getByText('src/checkout.rs:1-3')).toBeInTheDocument();
    const symbols = within(files[0]!).getByRole('list', { name: 'Symbols in src/cart.rs:8-12' });
    expect(within(symbols).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['Cart', 'Cart::total']);
    const lines = within(files[0]!).getByLabelText('Lines src/cart.rs:8-12');
    expect(lines.tagName).toBe('PRE');
    expect(lines).toHaveTextContent('pub fn total(&self) -> u64');
    expect(within(panel).getByTestId('search-mode')).toHaveTextContent('hybrid');
    expect(within(panel).getByTestId('search-summary')).toHaveTextContent('took 42 ms');
    expect(within(panel).queryByTestId('search-warning')).not.toBeInTheDocument();
    expect(within(panel).getByTestId('search-results')).toHaveAttribute('aria-live', 'polite');

    // The same search again asks again.
    await user.click(within(panel).getByRole('button', { name: 'Search' }));
    await waitFor(() => expect(asked).toHaveLength(2));
  });

  it('shows the warning of a degraded search', async () => {
    server.use(
      http.get(api('api/v1/projects/bakery/search'), () =>
        HttpResponse.json(
          searchResult({ mode: 'sparse', warning: 'embedding model not found: searching with BM25 only' }),
        ),
      ),
    );
    const { panel } = await searchFor('cart');
    expect(await within(panel).findByTestId('search-warning')).toHaveTextContent('embedding model not found: searching with BM25 only');
    expect(within(panel).getByTestId('search-mode')).toHaveTextContent('sparse');
  });

  it("shows the API's problem detail when the project cannot be searched yet", async () => {
    server.use(
      http.get(api('api/v1/projects/bakery/search'), () =>
        problem(409, 'conflict', 'Conflict', 'project "bakery" has no main branch yet'),
      ),
    );
    const { panel } = await searchFor('cart');
    const alert = await within(panel).findByRole('alert');
    expect(within(alert).getByTestId('problem-detail')).toHaveTextContent('project "bakery" has no main branch yet');
    expect(within(panel).queryAllByTestId('search-file')).toHaveLength(0);
  });

  it('shows repository content as text, never as HTML', async () => {
    const text = '<p>hi</p>\n<script>alert(1)</script>\n<img src=x onerror="alert(2)">';
    server.use(
      http.get(api('api/v1/projects/bakery/search'), () =>
        HttpResponse.json(
          searchResult({
            files: [{ path: 'public/<b>index</b>.html', score: 0.5, chunks: 1 }],
            snippets: [{ path: 'public/<b>index</b>.html', start_line: 1, end_line: 3, lang: 'html', symbols: ['<em>x</em>'], score: 0.5, text }],
          }),
        ),
      ),
    );
    const { panel } = await searchFor('script');
    const lines = await within(panel).findByLabelText('Lines public/<b>index</b>.html:1-3');
    expect(lines.textContent).toBe(text);
    expect(within(panel).getByText('<em>x</em>')).toBeInTheDocument();
    expect(document.querySelector('script')).toBeNull();
    expect(lines.children).toHaveLength(0);
    expect(panel.querySelector('img, b, em')).toBeNull();
  });
});

describe('Project knowledge', () => {
  function serve(body: JsonBodyType) {
    server.use(http.get(api('api/v1/projects/bakery/knowledge'), () => HttpResponse.json(body)));
  }

  async function panel() {
    renderApp('/projects/bakery');
    const region = await screen.findByRole('region', { name: 'Project knowledge' });
    await within(region).findByTestId('knowledge-scan');
    return region;
  }

  it('shows the summary, languages, commands, flagged secrets and overridden fields of the scanned commit', async () => {
    const asked: string[] = [];
    server.use(
      http.get(api('api/v1/projects/:name/knowledge'), ({ request }) => {
        asked.push(new URL(request.url).pathname);
        return HttpResponse.json(projectKnowledge());
      }),
    );
    const region = await panel();
    expect(asked).toEqual(['/api/v1/projects/bakery/knowledge']);
    expect(within(region).getByTestId('knowledge-scan')).toHaveTextContent(`commit ${SHA0.slice(0, 12)}`);
    expect(within(region).getByTestId('knowledge-scan')).not.toHaveTextContent(SHA0);
    expect(within(region).getByTestId('knowledge-scan')).toHaveTextContent('61 files · 4,200 lines');
    expect(within(region).getByTestId('knowledge-scan').querySelector('time')).toHaveAttribute('datetime', '2026-11-20T23:27:00Z');
    expect(within(region).getByTestId('knowledge-summary')).toHaveTextContent('A bakery storefront: an Express server rendering a React front end.');
    expect(within(region).getByTestId('knowledge-summary-source')).toHaveTextContent('outline of the detected fields');

    const languages = within(region).getAllByTestId('knowledge-language');
    expect(languages).toHaveLength(2);
    expect(languages[0]).toHaveTextContent('typescript');
    expect(languages[0]).toHaveTextContent('78.4%');
    expect(languages[0]).toHaveTextContent('3,120 lines');
    expect(languages[1]).toHaveTextContent('21.6%');

    expect(within(region).getByTestId('knowledge-command-test')).toHaveTextContent('npm test');
    expect(within(region).getByTestId('knowledge-command-test')).toHaveTextContent('from override');
    expect(within(region).getByTestId('knowledge-command-install')).toHaveTextContent('npm ci');
    expect(within(region).getByTestId('knowledge-command-run')).toHaveTextContent('not detected');

    expect(within(region).getByTestId('knowledge-build-system')).toHaveTextContent('npm');
    expect(within(region).getByTestId('knowledge-build-system')).toHaveTextContent('package.json');
    const frameworks = within(region).getByRole('list', { name: 'Frameworks' });
    expect(within(frameworks).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['express', 'react']);
    const entries = within(region).getByRole('list', { name: 'Entry points' });
    expect(within(entries).getAllByRole('listitem').map((li) => li.textContent)).toEqual(['src/server.ts', 'src/main.tsx']);
    expect(within(region).getByText('prettier (formatter, .prettierrc)')).toBeInTheDocument();
    expect(within(region).getByText('conventional commits (9 of 10 commits), e.g. "feat: add opening hours"')).toBeInTheDocument();

    const secrets = within(region).getByTestId('knowledge-secrets');
    expect(secrets).toHaveTextContent('never indexed or shown to a model');
    const [env] = within(secrets).getAllByTestId('knowledge-secret');
    expect(env).toHaveTextContent('.env — environment file');

    const overridden = within(region).getByRole('list', { name: 'Overridden fields' });
    expect(within(overridden).getByText('commands.test')).toBeInTheDocument();
    expect(within(region).getByText('Set by .kiln/project.toml')).toBeInTheDocument();
  });

  it('says a command of an unknown stack was not detected, the test command most of all', async () => {
    serve(
      projectKnowledge({
        knowledge: knowledgeRecord({
          languages: [],
          build_systems: [],
          frameworks: [],
          commands: { no_tests: false, sources: {} },
          entry_points: [],
          conventions: {},
          secrets: [],
          summary: '',
          overridden: [],
          notes: ['vendor/blob.bin: binary, not counted'],
        }),
      }),
    );
    const region = await panel();
    for (const name of ['install', 'build', 'test', 'lint', 'run']) {
      expect(within(region).getByTestId(`knowledge-command-${name}`)).toHaveTextContent('not detected');
    }
    expect(within(region).getByTestId('knowledge-command-test')).toHaveTextContent("Kiln cannot run this project's tests");
    expect(within(region).getByText('No languages detected.')).toBeInTheDocument();
    expect(within(region).getByText('No summary.')).toBeInTheDocument();
    expect(within(region).queryByTestId('knowledge-secrets')).not.toBeInTheDocument();
    expect(within(region).queryByRole('list', { name: 'Overridden fields' })).not.toBeInTheDocument();
    expect(within(region).getByRole('list', { name: 'Scan notes' })).toHaveTextContent('vendor/blob.bin: binary, not counted');
  });

  it('says "no tests" when the project declares it has none', async () => {
    serve(projectKnowledge({ knowledge: knowledgeRecord({ commands: { no_tests: true, sources: {} }, overridden: ['commands.test'] }) }));
    const region = await panel();
    expect(within(region).getByTestId('knowledge-command-test')).toHaveTextContent('no tests');
    expect(within(region).getByTestId('knowledge-command-test')).not.toHaveTextContent('not detected');
  });

  it("shows the API's detail, muted, when nothing is scanned yet", async () => {
    const detail = 'no knowledge of project "bakery" yet: the indexer scans each commit it indexes, and none answered';
    server.use(
      http.get(api('api/v1/projects/bakery/knowledge'), () => problem(404, 'no-knowledge', 'No project knowledge yet', detail)),
    );
    renderApp('/projects/bakery');
    const region = await screen.findByRole('region', { name: 'Project knowledge' });
    expect(await within(region).findByTestId('knowledge-missing')).toHaveTextContent(detail);
    expect(within(region).queryByRole('alert')).not.toBeInTheDocument();
  });

  it('shows other failures as an error', async () => {
    server.use(
      http.get(api('api/v1/projects/bakery/knowledge'), () => problem(500, 'internal', 'Internal error', 'database unavailable')),
    );
    renderApp('/projects/bakery');
    const region = await screen.findByRole('region', { name: 'Project knowledge' });
    const alert = await within(region).findByRole('alert');
    expect(within(alert).getByTestId('problem-detail')).toHaveTextContent('database unavailable');
    expect(within(region).queryByTestId('knowledge-missing')).not.toBeInTheDocument();
  });

  it('shows repository text as text, never as HTML', async () => {
    const summary = '<img src=x onerror=alert(1)>';
    serve(
      projectKnowledge({
        knowledge: knowledgeRecord({
          summary,
          frameworks: ['<b>react</b>'],
          secrets: [{ path: '<script>alert(2)</script>.env', reason: '<em>env</em>' }],
          languages: [{ name: '<i>ts</i>', files: 1, lines: 1, percent: 100 }],
        }),
      }),
    );
    const region = await panel();
    expect(within(region).getByTestId('knowledge-summary').textContent).toBe(summary);
    expect(within(region).getByText('<b>react</b>')).toBeInTheDocument();
    expect(within(region).getByTestId('knowledge-secret')).toHaveTextContent('<script>alert(2)</script>.env — <em>env</em>');
    expect(within(region).getByText('<i>ts</i>')).toBeInTheDocument();
    expect(region.querySelector('img, b, i, em, script')).toBeNull();
    expect(document.querySelector('script')).toBeNull();
  });

  it('skips fields of unexpected shapes instead of failing', async () => {
    serve(
      projectKnowledge({
        knowledge: {
          languages: 'typescript',
          build_systems: [null, 7, { manifest: 'no name' }, { name: 'cargo', manifest: 'Cargo.toml', root: 'api', workspace: true }],
          frameworks: [1, null, 'axum', { name: 'x' }],
          commands: 'npm test',
          entry_points: { main: 'x' },
          conventions: {
            tools: ['eslint', { kind: 'linter' }, [['nested']], null, 3],
            test_layout: { unexpected: true },
            ci: 'github-actions',
            commit_style: null,
            extra_thing: [{ path: 'docs/STYLE.md' }],
          },
          secrets: [{ reason: 'no path' }, { path: 'id_rsa', reason: 42 }],
          summary: { text: 'not a string' },
          summary_source: 'somebody',
          overridden: 'summary',
          notes: null,
          files: 'many',
          lines: Infinity,
        },
      }),
    );
    const region = await panel();
    expect(within(region).getByTestId('knowledge-build-system')).toHaveTextContent('cargoCargo.tomlin apiworkspace');
    expect(within(region).getByRole('list', { name: 'Frameworks' })).toHaveTextContent('axum');
    expect(within(region).getByTestId('knowledge-command-test')).toHaveTextContent('not detected');
    expect(within(region).getByText('eslint; 3')).toBeInTheDocument();
    expect(within(region).getByText('github-actions')).toBeInTheDocument();
    expect(within(region).getByText('Extra thing')).toBeInTheDocument();
    expect(within(region).getByText('docs/STYLE.md')).toBeInTheDocument();
    expect(within(region).queryByText('Test layout')).not.toBeInTheDocument();
    expect(within(region).getByTestId('knowledge-secret')).toHaveTextContent('id_rsa');
    expect(within(region).getByText('No summary.')).toBeInTheDocument();
    expect(within(region).queryByTestId('knowledge-summary-source')).not.toBeInTheDocument();
    expect(within(region).getByTestId('knowledge-scan')).toHaveTextContent(`commit ${SHA0.slice(0, 12)}`);
    expect(within(region).getByTestId('knowledge-scan')).not.toHaveTextContent('files');
  });

  it('survives a knowledge record that is not an object at all', async () => {
    serve({ project: 'bakery', commit: 42, scanned_at: null, knowledge: null });
    renderApp('/projects/bakery');
    const region = await screen.findByRole('region', { name: 'Project knowledge' });
    expect(await within(region).findByTestId('knowledge-command-test')).toHaveTextContent('not detected');
  });

  it("shows where an imported project came from in the page's header", async () => {
    server.use(
      http.get(api('api/v1/projects'), () =>
        HttpResponse.json({ items: [{ ...projects[0]!, template: '', source_url: 'https://github.com/acme/bakery.git' }] }),
      ),
    );
    renderApp('/projects/bakery');
    await screen.findByRole('heading', { level: 1, name: 'bakery' });
    expect(screen.getByTestId('project-source')).toHaveTextContent('https://github.com/acme/bakery.git');
    expect(screen.getByText(/imported from/)).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'https://github.com/acme/bakery.git' })).not.toBeInTheDocument();
  });

  it('says nothing of an origin for a scaffolded project', async () => {
    renderApp('/projects/bakery');
    await screen.findByRole('heading', { level: 1, name: 'bakery' });
    expect(screen.queryByTestId('project-source')).not.toBeInTheDocument();
    expect(screen.queryByText(/imported from/)).not.toBeInTheDocument();
  });
});
