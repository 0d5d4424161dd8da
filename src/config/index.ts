export { loadConfigFile, parseConfigText, type LoadedConfig } from './load.ts';
export * from './schema/index.ts';
