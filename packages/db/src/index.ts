export { closeDb, createDb, pingDb, type Database } from "./client.ts";
export { canConnect, databaseNameOf, dropDatabase, ensureDatabase } from "./ensure-database.ts";
export { MIGRATIONS_FOLDER, runMigrations } from "./migrate.ts";
export * as schema from "./schema/index.ts";
