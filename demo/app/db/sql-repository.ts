// The Repository over any SqlDriver: the same statements run on SQLite and PostgreSQL (both support
// RETURNING). Timestamps are written by the application as ISO strings so both dialects agree.
import type { SqlDriver, SqlExecutor, SqlValue } from './driver.ts';
import type { NewOrder, NewUser, Order, OrderUpdate, Page, Repository, User, UserUpdate } from './repository.ts';

const userColumns = 'id, username, name, email, created_at';
const orderColumns = 'id, user_id, item, quantity, status, created_at';

type Row = Record<string, unknown>;

// pg returns timestamptz as Date, SQLite as the stored text: present both as ISO 8601.
const isoTime = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();

function toUser(row: Row): User {
  return { id: Number(row.id), username: String(row.username), name: String(row.name), email: String(row.email), created_at: isoTime(row.created_at) };
}

function toOrder(row: Row): Order {
  return {
    id: Number(row.id),
    user_id: Number(row.user_id),
    item: String(row.item),
    quantity: Number(row.quantity),
    status: String(row.status) as Order['status'],
    created_at: isoTime(row.created_at),
  };
}

const seedOrders: readonly { user: number; item: string; quantity: number; status: string }[] = [
  { user: 0, item: 'switch', quantity: 2, status: 'paid' },
  { user: 0, item: 'patch cable', quantity: 10, status: 'pending' },
  { user: 1, item: 'rack shelf', quantity: 1, status: 'shipped' },
];

export class SqlRepository implements Repository {
  readonly #driver: SqlDriver;
  readonly #now: () => Date;

  constructor(driver: SqlDriver, now: () => Date = () => new Date()) {
    this.#driver = driver;
    this.#now = now;
  }

  async init(seed: readonly NewUser[]): Promise<void> {
    await this.#driver.withInitLock(async (tx) => {
      for (const statement of this.#driver.schema) await tx.query(statement);
      const [{ count }] = await tx.query<{ count: number | string }>('SELECT COUNT(*) AS count FROM users');
      if (Number(count) > 0) return;
      const ids: number[] = [];
      for (const user of seed) ids.push((await this.#insertUser(tx, user)).id);
      for (const order of seedOrders) {
        if (ids[order.user] === undefined) continue;
        await tx.query('INSERT INTO orders (user_id, item, quantity, status, created_at) VALUES (?, ?, ?, ?, ?)', [
          ids[order.user],
          order.item,
          order.quantity,
          order.status,
          this.#timestamp(),
        ]);
      }
    });
  }

  ping(timeoutMs: number): Promise<void> {
    return this.#driver.ping(timeoutMs);
  }

  async listUsers(page: Page): Promise<User[]> {
    const rows = await this.#driver.query<Row>(`SELECT ${userColumns} FROM users ORDER BY id LIMIT ? OFFSET ?`, [page.limit, page.offset]);
    return rows.map(toUser);
  }

  async getUser(id: number): Promise<User | undefined> {
    const [row] = await this.#driver.query<Row>(`SELECT ${userColumns} FROM users WHERE id = ?`, [id]);
    return row && toUser(row);
  }

  async findCredentials(username: string): Promise<{ user: User; passwordHash: string } | undefined> {
    const [row] = await this.#driver.query<Row>(`SELECT ${userColumns}, password_hash FROM users WHERE username = ?`, [username]);
    return row && { user: toUser(row), passwordHash: String(row.password_hash) };
  }

  createUser(input: NewUser): Promise<User> {
    return this.#insertUser(this.#driver, input);
  }

  async updateUser(id: number, input: UserUpdate): Promise<User | undefined> {
    const [row] = await this.#driver.query<Row>(
      `UPDATE users SET username = ?, name = ?, email = ?, password_hash = COALESCE(?, password_hash) WHERE id = ? RETURNING ${userColumns}`,
      [input.username, input.name, input.email, input.passwordHash ?? null, id],
    );
    return row && toUser(row);
  }

  async deleteUser(id: number): Promise<boolean> {
    const rows = await this.#driver.query<Row>('DELETE FROM users WHERE id = ? RETURNING id', [id]);
    return rows.length > 0;
  }

  async listOrders(filter: { userId?: number }, page: Page): Promise<Order[]> {
    const where = filter.userId === undefined ? '' : 'WHERE user_id = ?';
    const params: SqlValue[] = filter.userId === undefined ? [] : [filter.userId];
    const rows = await this.#driver.query<Row>(`SELECT ${orderColumns} FROM orders ${where} ORDER BY id LIMIT ? OFFSET ?`, [...params, page.limit, page.offset]);
    return rows.map(toOrder);
  }

  async getOrder(id: number): Promise<Order | undefined> {
    const [row] = await this.#driver.query<Row>(`SELECT ${orderColumns} FROM orders WHERE id = ?`, [id]);
    return row && toOrder(row);
  }

  async createOrder(input: NewOrder): Promise<Order> {
    const [row] = await this.#driver.query<Row>(
      `INSERT INTO orders (user_id, item, quantity, status, created_at) VALUES (?, ?, ?, 'pending', ?) RETURNING ${orderColumns}`,
      [input.userId, input.item, input.quantity, this.#timestamp()],
    );
    return toOrder(row);
  }

  async updateOrder(id: number, input: OrderUpdate): Promise<Order | undefined> {
    const [row] = await this.#driver.query<Row>(`UPDATE orders SET item = ?, quantity = ?, status = ? WHERE id = ? RETURNING ${orderColumns}`, [
      input.item,
      input.quantity,
      input.status,
      id,
    ]);
    return row && toOrder(row);
  }

  async deleteOrder(id: number): Promise<boolean> {
    const rows = await this.#driver.query<Row>('DELETE FROM orders WHERE id = ? RETURNING id', [id]);
    return rows.length > 0;
  }

  close(): Promise<void> {
    return this.#driver.close();
  }

  async #insertUser(executor: SqlExecutor, input: NewUser): Promise<User> {
    const [row] = await executor.query<Row>(
      `INSERT INTO users (username, name, email, password_hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING ${userColumns}`,
      [input.username, input.name, input.email, input.passwordHash, this.#timestamp()],
    );
    return toUser(row);
  }

  #timestamp(): string {
    return this.#now().toISOString();
  }
}
