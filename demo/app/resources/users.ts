// /api/users: reads are public; a signed-in user may create users and change or delete only themselves.
import type { RouteDefinition } from '../http/router.ts';
import type { RequestContext } from '../http/context.ts';
import { HttpProblem, notFound } from '../http/problem.ts';
import { hashPassword } from '../auth/passwords.ts';
import { newUserBody, pageQuery, userReplaceBody } from './validation.ts';
import type { Services } from './services.ts';

export function userRoutes(services: Services): RouteDefinition[] {
  const { repository } = services;

  /** 404 before 403: whether someone else's id exists is public anyway (GET). */
  async function requireSelf(ctx: RequestContext): Promise<number> {
    const auth = await ctx.requireUser();
    const id = ctx.id();
    if (id !== auth.id) {
      const exists = await ctx.db(() => repository.getUser(id));
      if (!exists) throw notFound(`user ${id}`);
      throw new HttpProblem(403, `user ${id} is not you: users may change only themselves`, { code: 'forbidden' });
    }
    return id;
  }

  return [
    {
      method: 'GET',
      path: '/api/users',
      handler: async (ctx) => {
        const page = ctx.query(pageQuery);
        const items = await ctx.db(() => repository.listUsers(page));
        return { status: 200, body: { items, ...page } };
      },
    },
    {
      method: 'GET',
      path: '/api/users/:id',
      handler: async (ctx) => {
        const user = await ctx.db(() => repository.getUser(ctx.id()));
        if (!user) throw notFound(`user ${ctx.id()}`);
        return { status: 200, body: user };
      },
    },
    {
      method: 'POST',
      path: '/api/users',
      handler: async (ctx) => {
        await ctx.requireUser();
        const input = await ctx.body(newUserBody);
        const passwordHash = await hashPassword(input.password);
        const user = await ctx.db(() => repository.createUser({ username: input.username, name: input.name, email: input.email, passwordHash }));
        return { status: 201, headers: { location: `/api/users/${user.id}` }, body: user };
      },
    },
    {
      method: 'PUT',
      path: '/api/users/:id',
      handler: async (ctx) => {
        const id = await requireSelf(ctx);
        const input = await ctx.body(userReplaceBody);
        const passwordHash = input.password === undefined ? undefined : await hashPassword(input.password);
        const user = await ctx.db(() => repository.updateUser(id, { username: input.username, name: input.name, email: input.email, passwordHash }));
        if (!user) throw notFound(`user ${id}`);
        return { status: 200, body: user };
      },
    },
    {
      method: 'DELETE',
      path: '/api/users/:id',
      handler: async (ctx) => {
        const id = await requireSelf(ctx);
        if (!(await ctx.db(() => repository.deleteUser(id)))) throw notFound(`user ${id}`);
        return { status: 204 };
      },
    },
  ];
}
