// The frame of every page: a skip link, the top bar with navigation, who is signed in, the
// theme switch, and the page itself.
import { NavLink, Outlet, useLocation, useNavigate } from 'react-router';

import { useSession, useSignOut } from '../api/queries';
import { SIGNIN_PATH, allows } from '../api/session';
import { useTheme, type Theme } from '../lib/theme';
import { KilnLogo, MonitorIcon, MoonIcon, PlusIcon, SignOutIcon, SunIcon } from './icons';
import { ButtonLink, cx } from './ui';

const NEXT: Record<Theme, Theme> = { system: 'light', light: 'dark', dark: 'system' };
const THEME_LABEL: Record<Theme, string> = { system: 'System theme', light: 'Light theme', dark: 'Dark theme' };

function ThemeToggle() {
  const [theme, setTheme] = useTheme();
  const Icon = theme === 'light' ? SunIcon : theme === 'dark' ? MoonIcon : MonitorIcon;
  return (
    <button
      type="button"
      onClick={() => setTheme(NEXT[theme])}
      className="inline-flex size-8 items-center justify-center rounded-md text-zinc-600 hover:bg-zinc-100 hover:text-zinc-900 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:hover:text-zinc-100"
      aria-label={`${THEME_LABEL[theme]}; switch to ${THEME_LABEL[NEXT[theme]].toLowerCase()}`}
      title={THEME_LABEL[theme]}
      data-theme={theme}
    >
      <Icon className="size-4" />
    </button>
  );
}

/** Who is signed in, and the way out. */
function SessionMenu() {
  const session = useSession();
  const signOut = useSignOut();
  const navigate = useNavigate();
  if (!session.data) return null;
  const { name, role } = session.data;
  return (
    <div className="flex items-center gap-1" data-testid="session">
      <span className="hidden min-w-0 flex-col items-end leading-tight md:flex" title={`Signed in as ${name} (${role})`}>
        <span className="max-w-36 truncate text-sm font-medium" data-testid="session-name">
          {name}
        </span>
        <span className="text-xs text-zinc-500 dark:text-zinc-400" data-testid="session-role">
          {role}
        </span>
      </span>
      <span className="sr-only md:hidden">
        Signed in as {name} ({role})
      </span>
      <button
        type="button"
        onClick={() =>
          signOut.mutate(undefined, {
            onSettled: () => void navigate(SIGNIN_PATH, { replace: true }),
          })
        }
        disabled={signOut.isPending}
        className="inline-flex size-8 items-center justify-center rounded-md text-zinc-600 hover:bg-zinc-100 hover:text-zinc-900 disabled:opacity-60 dark:text-zinc-400 dark:hover:bg-zinc-800 dark:hover:text-zinc-100"
        aria-label="Sign out"
        title={`Sign out ${name}`}
      >
        <SignOutIcon className="size-4" />
      </button>
    </div>
  );
}

const LINKS = [
  { to: '/', label: 'Tasks', end: true },
  { to: '/projects', label: 'Projects', end: false },
  { to: '/system', label: 'System', end: false },
  { to: '/audit', label: 'Audit', end: false },
];

const ADMIN_LINKS = [{ to: '/tokens', label: 'Tokens', end: false }];

export function Layout() {
  const location = useLocation();
  const session = useSession();
  const links = allows(session.data?.role, 'admin') ? [...LINKS, ...ADMIN_LINKS] : LINKS;
  const onTask = location.pathname.startsWith('/tasks/') && location.pathname !== '/tasks/new';
  return (
    <div className="min-h-dvh">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:z-50 focus:rounded-md focus:bg-white focus:px-3 focus:py-2 focus:shadow dark:focus:bg-zinc-900"
      >
        Skip to content
      </a>
      <header className="sticky top-0 z-40 border-b border-zinc-200 bg-white/85 backdrop-blur dark:border-zinc-800 dark:bg-zinc-950/85">
        <div className="mx-auto flex h-14 max-w-7xl items-center gap-2 px-3 sm:gap-4 sm:px-6">
          <NavLink to="/" className="flex items-center gap-2 font-semibold tracking-tight" aria-label="Kiln home">
            <KilnLogo className="size-7" />
            <span className="hidden sm:inline">Kiln</span>
          </NavLink>
          <nav aria-label="Main" className="flex min-w-0 flex-1 items-center gap-0.5 overflow-x-auto sm:gap-1">
            {links.map((l) => (
              <NavLink
                key={l.to}
                to={l.to}
                end={l.end}
                className={({ isActive }) =>
                  cx(
                    'rounded-md px-2.5 py-1.5 text-sm font-medium whitespace-nowrap',
                    isActive || (l.to === '/' && onTask)
                      ? 'bg-zinc-100 text-zinc-900 dark:bg-zinc-800 dark:text-zinc-100'
                      : 'text-zinc-600 hover:bg-zinc-50 hover:text-zinc-900 dark:text-zinc-400 dark:hover:bg-zinc-900 dark:hover:text-zinc-100',
                  )
                }
              >
                {l.label}
              </NavLink>
            ))}
          </nav>
          <SessionMenu />
          <ThemeToggle />
          <ButtonLink to="/tasks/new" variant="primary" className="px-2.5" aria-label="New task">
            <PlusIcon className="size-4" />
            <span className="hidden sm:inline">New task</span>
          </ButtonLink>
        </div>
      </header>
      <main id="main" className="mx-auto max-w-7xl px-3 py-5 sm:px-6 sm:py-8">
        <Outlet />
      </main>
    </div>
  );
}
