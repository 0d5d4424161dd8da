// /api/orders: reads are public; an order belongs to the user who created it, and only they may change
// or delete it (403 for anyone else).
import type { RouteDefinition } from '../http/router.ts';
import type { RequestContext } from '../http/context.ts';
import { HttpProblem, notFound } from '../http/problem.ts';
import type { Order } from '../db/index.ts';
import { newOrderBody, orderListQuery, orderReplaceBody } from './validation.ts';
import type { Services } from './services.ts';

export function orderRoutes(services: Services): RouteDefinition[] {
  const { repository } = services;

  async function requireOwnOrder(ctx: RequestContext): Promise<Order> {
    const auth = await ctx.requireUser();
    const order = await ctx.db(() => repository.getOrder(ctx.id()));
    if (!order) throw notFound(`order ${ctx.id()}`);
    if (order.user_id !== auth.id) throw new HttpProblem(403, `order ${order.id} belongs to another user`, { code: 'forbidden' });
    return order;
  }

  return [
    {
      method: 'GET',
      path: '/api/orders',
      handler: async (ctx) => {
        const { user_id: userId, ...page } = ctx.query(orderListQuery);
        const items = await ctx.db(() => repository.listOrders({ userId }, page));
        return { status: 200, body: { items, ...page } };
      },
    },
    {
      method: 'GET',
      path: '/api/orders/:id',
      handler: async (ctx) => {
        const order = await ctx.db(() => repository.getOrder(ctx.id()));
        if (!order) throw notFound(`order ${ctx.id()}`);
        return { status: 200, body: order };
      },
    },
    {
      method: 'POST',
      path: '/api/orders',
      handler: async (ctx) => {
        const auth = await ctx.requireUser();
        const input = await ctx.body(newOrderBody);
        const order = await ctx.db(() => repository.createOrder({ userId: auth.id, item: input.item, quantity: input.quantity }));
        return { status: 201, headers: { location: `/api/orders/${order.id}` }, body: order };
      },
    },
    {
      method: 'PUT',
      path: '/api/orders/:id',
      handler: async (ctx) => {
        const order = await requireOwnOrder(ctx);
        const input = await ctx.body(orderReplaceBody);
        const updated = await ctx.db(() => repository.updateOrder(order.id, input));
        if (!updated) throw notFound(`order ${order.id}`);
        return { status: 200, body: updated };
      },
    },
    {
      method: 'DELETE',
      path: '/api/orders/:id',
      handler: async (ctx) => {
        const order = await requireOwnOrder(ctx);
        if (!(await ctx.db(() => repository.deleteOrder(order.id)))) throw notFound(`order ${order.id}`);
        return { status: 204 };
      },
    },
  ];
}
