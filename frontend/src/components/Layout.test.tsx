import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { renderApp } from '../../test/render';

describe('Layout', () => {
  it('navigates between pages', async () => {
    const user = userEvent.setup();
    const { router } = renderApp('/');
    const nav = screen.getByRole('navigation', { name: 'Main' });
    await user.click(screen.getByRole('link', { name: 'System' }));
    expect(router.state.location.pathname).toBe('/system');
    expect(nav.querySelector('[aria-current="page"]')).toHaveTextContent('System');
    await user.click(screen.getByRole('link', { name: 'New task' }));
    expect(router.state.location.pathname).toBe('/tasks/new');
  });

  it('switches between system, light and dark themes and remembers the choice', async () => {
    const user = userEvent.setup();
    renderApp('/');
    const toggle = screen.getByRole('button', { name: /system theme/i });
    await user.click(toggle);
    expect(document.documentElement).not.toHaveClass('dark');
    expect(localStorage.getItem('kiln.theme')).toBe('light');
    await user.click(screen.getByRole('button', { name: /light theme; switch to dark/i }));
    expect(document.documentElement).toHaveClass('dark');
    expect(localStorage.getItem('kiln.theme')).toBe('dark');
    await user.click(screen.getByRole('button', { name: /dark theme; switch to system/i }));
    expect(localStorage.getItem('kiln.theme')).toBeNull();
    expect(document.documentElement).not.toHaveClass('dark');
  });

  it('has a page for unknown addresses', async () => {
    renderApp('/nowhere');
    expect(await screen.findByRole('heading', { name: 'Page not found' })).toBeInTheDocument();
  });
});
