export { openSqliteStore, type FunctionStore, type SecretRecord } from './sqlite-store.js';
