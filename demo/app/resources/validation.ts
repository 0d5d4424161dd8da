// Request shapes. Strict objects: an unknown field is a client bug worth a 400, not something to ignore.
import { z } from 'zod';
import { orderStatuses } from '../db/index.ts';

const username = z.string().regex(/^[a-z0-9_.-]{3,32}$/, { message: 'expected 3-32 characters of a-z 0-9 _ . -' });
const name = z.string().trim().min(1).max(100);
const email = z.email().max(254);
const password = z.string().min(8).max(200);

export const loginBody = z.strictObject({ username: z.string().min(1).max(100), password: z.string().min(1).max(200) });

export const newUserBody = z.strictObject({ username, name, email, password });

/** PUT replaces the editable fields; the password changes only when given. */
export const userReplaceBody = z.strictObject({ username, name, email, password: password.optional() });

const item = z.string().trim().min(1).max(100);
const quantity = z.number().int().min(1).max(1000);

export const newOrderBody = z.strictObject({ item, quantity });

export const orderReplaceBody = z.strictObject({ item, quantity, status: z.enum(orderStatuses) });

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

export const orderListQuery = pageQuery.extend({ user_id: z.coerce.number().int().positive().optional() });
