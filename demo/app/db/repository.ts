// The demo's data model and the one interface the HTTP handlers see. Handlers never write SQL and never
// know which database is behind it (SQLite by default, PostgreSQL when DATABASE_URL is set).

export interface User {
  id: number;
  username: string;
  name: string;
  email: string;
  created_at: string;
}

export const orderStatuses = ['pending', 'paid', 'shipped', 'cancelled'] as const;
export type OrderStatus = (typeof orderStatuses)[number];

export interface Order {
  id: number;
  user_id: number;
  item: string;
  quantity: number;
  status: OrderStatus;
  created_at: string;
}

export interface Page {
  limit: number;
  offset: number;
}

export interface NewUser {
  username: string;
  name: string;
  email: string;
  /** Already hashed (auth/passwords.ts); the repository never sees a plain password. */
  passwordHash: string;
}

export interface UserUpdate {
  username: string;
  name: string;
  email: string;
  /** Unchanged when absent. */
  passwordHash?: string;
}

export interface NewOrder {
  userId: number;
  item: string;
  quantity: number;
}

export interface OrderUpdate {
  item: string;
  quantity: number;
  status: OrderStatus;
}

export interface Repository {
  /** Creates the schema and the seed rows; idempotent and safe when several instances start at once. */
  init(seed: readonly NewUser[]): Promise<void>;
  /** A `SELECT 1` that fails within timeoutMs when the database is unreachable. */
  ping(timeoutMs: number): Promise<void>;
  listUsers(page: Page): Promise<User[]>;
  getUser(id: number): Promise<User | undefined>;
  /** For login only: the stored password hash of a user name. */
  findCredentials(username: string): Promise<{ user: User; passwordHash: string } | undefined>;
  createUser(input: NewUser): Promise<User>;
  updateUser(id: number, input: UserUpdate): Promise<User | undefined>;
  /** Deletes the user and, by cascade, their orders. */
  deleteUser(id: number): Promise<boolean>;
  listOrders(filter: { userId?: number }, page: Page): Promise<Order[]>;
  getOrder(id: number): Promise<Order | undefined>;
  createOrder(input: NewOrder): Promise<Order>;
  updateOrder(id: number, input: OrderUpdate): Promise<Order | undefined>;
  deleteOrder(id: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * What a database failure means for the client:
 * - unavailable: pool exhausted, connection refused, database busy or gone → 503, retry later
 * - conflict: a unique constraint (field names it when known) → 409
 * - missing_reference: a foreign key points nowhere (the user was deleted meanwhile) → 409
 * Anything else is a bug or a broken schema and surfaces as 500.
 */
export type DbErrorKind = 'unavailable' | 'conflict' | 'missing_reference';

export class DbError extends Error {
  readonly kind: DbErrorKind;
  readonly field: string | undefined;

  constructor(kind: DbErrorKind, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'DbError';
    this.kind = kind;
    this.field = options.field;
  }
}
