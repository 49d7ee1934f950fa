import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { printSchema } from 'graphql';
import { createPubSub } from '@graphql-yoga/subscription';
import { buildNudgeSchema } from '../src/schema/build-schema';

/** Writes the GraphQL SDL to docs/schema.graphql (a test checks it is current). */
export async function currentSdl(): Promise<string> {
  return `${printSchema(await buildNudgeSchema(createPubSub()))}\n`;
}

if (require.main === module) {
  currentSdl()
    .then((sdl) => writeFileSync(path.join(__dirname, '..', 'docs', 'schema.graphql'), sdl))
    .catch((err: Error) => {
      process.stderr.write(`${err.stack}\n`);
      process.exit(1);
    });
}
