// Shared helpers for every benchmark under bench/: processes (pinning, cleanup), wrk, cgroup CPU quotas,
// /proc sampling, statistics, tables and machine facts.
export * from './processes.ts';
export * from './wrk.ts';
export * from './cgroup.ts';
export * from './procfs.ts';
export * from './stats.ts';
export * from './table.ts';
export * from './machine.ts';
export * from './args.ts';
export * from './cpuprofile.ts';
export * from './h2load.ts';
export * from './results.ts';
export * from './nginx-tls.ts';
