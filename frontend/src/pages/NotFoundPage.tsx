import { Link } from 'react-router';

import { PageHeader, useTitle } from '../components/ui';

export function NotFoundPage() {
  useTitle('Not found');
  return (
    <div>
      <PageHeader title="Page not found" subtitle="There is nothing at this address." />
      <Link to="/" className="text-sm font-medium text-brand-700 hover:underline dark:text-brand-400">
        ← All tasks
      </Link>
    </div>
  );
}
