import { readFileSync } from 'node:fs';
import path from 'node:path';
import { currentSdl } from '../scripts/print-schema';

describe('docs/schema.graphql', () => {
  it('matches the schema the code builds (regenerate with scripts/print-schema.ts)', async () => {
    const documented = readFileSync(path.join(__dirname, '..', 'docs', 'schema.graphql'), 'utf8');
    expect(await currentSdl()).toBe(documented);
  });
});
