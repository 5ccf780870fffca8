// The root of every route: sends the person to /signin whenever the API answers 401,
// remembering the page they were on so signing in brings them back.
import { useEffect, useRef } from 'react';
import { Outlet, useLocation, useNavigate } from 'react-router';

import { SIGNIN_PATH, onUnauthorized, signinPath } from '../api/session';

export function AuthRoot() {
  const navigate = useNavigate();
  const location = useLocation();
  const here = useRef(location);
  useEffect(() => {
    here.current = location;
  }, [location]);

  useEffect(
    () =>
      onUnauthorized(() => {
        const { pathname, search } = here.current;
        if (pathname === SIGNIN_PATH) return;
        void navigate(signinPath(`${pathname}${search}`), { replace: true });
      }),
    [navigate],
  );

  return <Outlet />;
}
