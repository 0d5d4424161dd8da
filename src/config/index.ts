export { loadConfigFile, parseConfigText, type LoadedConfig } from './load.ts';
export { adminTokenPath } from './files.ts';
export { adminTokenProblem, MIN_ADMIN_TOKEN_BYTES, JEMALLOC_PATHS } from '../core/index.ts';
export { readJwtKeys, readJwtSecret, parseJwtKeys, MIN_JWT_SECRET_BYTES, type JwtKeyFile } from '../core/index.ts';
export * from './schema/index.ts';
