// The dashboard's pages by path. Everything but /signin needs a session; a 401 from any
// request sends the person to /signin, which brings them back afterwards.
import type { RouteObject } from 'react-router';

import { AuthRoot } from './components/AuthRoot';
import { Layout } from './components/Layout';
import { AuditPage } from './pages/AuditPage';
import { NewTaskPage } from './pages/NewTaskPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { ProjectPage } from './pages/ProjectPage';
import { ProjectsPage } from './pages/ProjectsPage';
import { SignInPage } from './pages/SignInPage';
import { SystemPage } from './pages/SystemPage';
import { TaskDetailPage } from './pages/TaskDetailPage';
import { TasksPage } from './pages/TasksPage';
import { TokensPage } from './pages/TokensPage';

export const routes: RouteObject[] = [
  {
    element: <AuthRoot />,
    children: [
      { path: 'signin', element: <SignInPage /> },
      {
        element: <Layout />,
        children: [
          { index: true, element: <TasksPage /> },
          { path: 'tasks', element: <TasksPage /> },
          { path: 'tasks/new', element: <NewTaskPage /> },
          { path: 'tasks/:id', element: <TaskDetailPage /> },
          { path: 'projects', element: <ProjectsPage /> },
          { path: 'projects/:name', element: <ProjectPage /> },
          { path: 'system', element: <SystemPage /> },
          { path: 'audit', element: <AuditPage /> },
          { path: 'tokens', element: <TokensPage /> },
          { path: '*', element: <NotFoundPage /> },
        ],
      },
    ],
  },
];
