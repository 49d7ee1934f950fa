/**
 * Packages that ship only ES modules. Node ≥ 20.19 loads them with require(), but Jest's
 * CommonJS sandbox does not (before Node 24.9), so Jest compiles them to CommonJS.
 */
const ESM_ONLY_PACKAGES = [
  'parse5',
  'parse5-sax-parser',
  'parse5-html-rewriting-stream',
  'entities',
];

/** Jest runs every suite against real PostgreSQL and Redis (see test/global-setup.ts). */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    '^.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022', isolatedModules: true } },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY_PACKAGES.join('|')})/)`],
  setupFiles: ['reflect-metadata'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 60000,
};
