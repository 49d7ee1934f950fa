import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { build } from 'esbuild';
import type { Logger } from '../logger';

/**
 * The page may talk to this origin only (GraphQL over HTTP and graphql-ws), runs only the
 * bundled script, and cannot be framed. CSP 3 lets `'self'` cover ws:/wss: on the same host.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  // A restart may ship a new bundle: always revalidate.
  'cache-control': 'no-cache',
};

interface Asset {
  contentType: string;
  body: Buffer;
}

type Assets = Map<string, Asset>;

export interface DashboardRoutes {
  /** Answers `GET /dashboard` and its assets. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
}

/** True for the paths `DashboardRoutes.handle` answers. */
export function isDashboardPath(pathname: string): boolean {
  return pathname === '/dashboard' || pathname.startsWith('/dashboard/');
}

/**
 * The live dashboard (README "Dashboard"): a static page, its stylesheet, and its script,
 * bundled from `dashboard/src` with esbuild (graphql-ws's browser client included) on the
 * first request and kept in memory, so a fresh clone needs no build step. A failed build is
 * logged and retried on the next request.
 */
export function createDashboardRoutes(log: Logger): DashboardRoutes {
  let assets: Promise<Assets> | null = null;

  return {
    async handle(req, res, url) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
        res.end('method not allowed');
        return;
      }
      if (url.pathname === '/dashboard/') {
        res.writeHead(308, { location: `/dashboard${url.search}` });
        res.end();
        return;
      }

      assets ??= loadAssets();
      let loaded: Assets;
      try {
        loaded = await assets;
      } catch (err) {
        assets = null;
        log.error({ err }, 'dashboard assets failed to build');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('the dashboard could not be built; see the server log');
        return;
      }
      const asset = loaded.get(url.pathname);
      if (!asset) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('not found');
        return;
      }
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': asset.contentType,
        'content-length': String(asset.body.length),
      });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
    },
  };
}

async function loadAssets(): Promise<Assets> {
  const root = dashboardRoot();
  const [html, css, script] = await Promise.all([
    readFile(path.join(root, 'index.html')),
    readFile(path.join(root, 'app.css')),
    build({
      entryPoints: [path.join(root, 'src', 'main.ts')],
      absWorkingDir: root,
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'browser',
      target: ['chrome111', 'firefox111', 'safari16'],
      minify: true,
      legalComments: 'none',
      logLevel: 'silent',
    }),
  ]);
  return new Map([
    ['/dashboard', { contentType: 'text/html; charset=utf-8', body: html }],
    ['/dashboard/app.css', { contentType: 'text/css; charset=utf-8', body: css }],
    [
      '/dashboard/app.js',
      {
        contentType: 'text/javascript; charset=utf-8',
        body: Buffer.from(script.outputFiles[0].contents),
      },
    ],
  ]);
}

/** `dashboard/` at the project root, from `src/server` (ts-node, Jest) or `dist/src/server`. */
function dashboardRoot(): string {
  const candidates = [
    path.resolve(__dirname, '..', '..', 'dashboard'),
    path.resolve(__dirname, '..', '..', '..', 'dashboard'),
  ];
  const found = candidates.find((dir) => existsSync(path.join(dir, 'src', 'main.ts')));
  if (!found) throw new Error(`dashboard sources not found in ${candidates.join(' or ')}`);
  return found;
}
