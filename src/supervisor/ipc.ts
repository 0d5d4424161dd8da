// Messages between the primary (control plane) and worker processes (traffic planes), over cluster IPC.

export type ToWorker =
  | { type: 'apply'; id: number; text: string; file: string; baseDir: string; ports: Record<string, number>; ticketSeed: string; traceToken?: string }
  | { type: 'health'; pool: string; backend: string; healthy: boolean; reason: string }
  | { type: 'draining'; id: number; pool: string; backend: string; draining: boolean }
  | { type: 'status'; id: number }
  | { type: 'metrics'; id: number }
  | { type: 'drain'; id: number; deadline: number };

export type FromWorker =
  | { type: 'reply'; id: number; ok: boolean; error?: string; value?: unknown };
