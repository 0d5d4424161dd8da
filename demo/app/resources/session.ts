// /api/login, /api/logout, /api/session: the users service owns authentication; every instance of both
// services can verify what it issues (tokens.ts).
import type { RouteDefinition } from '../http/router.ts';
import { HttpProblem } from '../http/problem.ts';
import { hashPassword, verifyPassword } from '../auth/passwords.ts';
import { clearedSessionCookie, sessionCookie } from '../auth/cookies.ts';
import { loginBody } from './validation.ts';
import type { Services } from './services.ts';

export function sessionRoutes(services: Services): RouteDefinition[] {
  const { repository, tokens } = services;
  // Compared against when the user name is unknown, so both failures take the same time.
  const decoy = hashPassword('decoy password, never matches');

  return [
    {
      method: 'POST',
      path: '/api/login',
      handler: async (ctx) => {
        const { username, password } = await ctx.body(loginBody);
        const found = await ctx.db(() => repository.findCredentials(username));
        const valid = await verifyPassword(password, found?.passwordHash ?? (await decoy));
        if (!found || !valid) throw new HttpProblem(401, 'wrong user name or password', { code: 'unauthorized' });
        const user = { id: found.user.id, username: found.user.username };
        const token = await tokens.issue(user);
        return {
          status: 200,
          headers: { 'set-cookie': sessionCookie(token, tokens.ttlSeconds) },
          body: { token, token_type: 'Bearer', expires_in: tokens.ttlSeconds, user: found.user },
        };
      },
    },
    {
      method: 'POST',
      path: '/api/logout',
      handler: async () => ({ status: 204, headers: { 'set-cookie': clearedSessionCookie() } }),
    },
    {
      method: 'GET',
      path: '/api/session',
      handler: async (ctx) => {
        const auth = await ctx.requireUser();
        const user = await ctx.db(() => repository.getUser(auth.id));
        if (!user) throw new HttpProblem(401, 'the user of this token no longer exists', { code: 'unauthorized' });
        return { status: 200, body: { user } };
      },
    },
  ];
}
