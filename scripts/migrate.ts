import 'reflect-metadata';
import { ConfigError, loadConfig } from '../src/config';
import { Database } from '../src/platform/database';

/**
 * `npm run migrate`: applies pending migrations to DATABASE_URL and lists them. The service
 * also migrates at start; this is for deploy pipelines and CI.
 */
async function main(): Promise<void> {
  const config = loadConfig({ NUDGE_OPERATOR_TOKEN: 'migrate-only-token-unused', ...process.env });
  if (!config.databaseUrl) throw new ConfigError('DATABASE_URL: required for npm run migrate');
  const db = await Database.connect({ url: config.databaseUrl, poolSize: 1 });
  try {
    const applied = await db.migrate();
    process.stdout.write(
      applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n',
    );
  } finally {
    await db.close();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`migrate failed: ${err.message}\n`);
  process.exit(1);
});
