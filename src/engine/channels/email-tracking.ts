import type { StartTag } from 'parse5-sax-parser' with { 'resolution-mode': 'import' };
import type { EmailLinks } from './channel';

// parse5 8 ships only ES modules. Node ≥ 20.19 loads them with require(); TypeScript's
// `node16` module mode predates that and refuses a static import, so the value is required
// and typed from the ESM declarations. (Jest compiles these packages, see jest.config.js.)
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { RewritingStream } = require('parse5-html-rewriting-stream') as typeof import(
  'parse5-html-rewriting-stream',
  { with: { 'resolution-mode': 'import' } }
);

/**
 * Adds engagement tracking to a rendered HTML email:
 * - every `<a href>` to an http(s) URL points at `links.clickUrl(original)` instead, except
 *   the unsubscribe URL itself; mailto:, tel:, fragments (#x) and relative links stay as
 *   they are;
 * - a 1×1 open pixel is inserted just before the first `</body>`, or appended when there is
 *   no `</body>`.
 * The HTML is tokenized by parse5 (not pattern-matched), and every token that is not changed
 * is copied byte for byte. Pure apart from calling `links.clickUrl`.
 */
export async function addEmailTracking(html: string, links: EmailLinks): Promise<string> {
  const rewriter = new RewritingStream();
  const output: string[] = [];
  let hasPixel = false;

  rewriter.on('data', (chunk: Buffer | string) => output.push(chunk.toString()));
  rewriter.on('startTag', (tag, raw) => {
    if (tag.tagName === 'a' && trackLink(tag, links)) rewriter.emitStartTag(tag);
    else rewriter.emitRaw(raw);
  });
  rewriter.on('endTag', (tag, raw) => {
    if (tag.tagName === 'body' && !hasPixel) {
      rewriter.emitRaw(openPixel(links.openPixelUrl));
      hasPixel = true;
    }
    rewriter.emitRaw(raw);
  });

  await new Promise<void>((resolve, reject) => {
    rewriter.once('end', resolve);
    rewriter.once('error', reject);
    rewriter.end(html);
  });

  if (!hasPixel) output.push(openPixel(links.openPixelUrl));
  return output.join('');
}

/** Points the tag's href at the click tracker; false when the link is left alone. */
function trackLink(tag: StartTag, links: EmailLinks): boolean {
  const href = tag.attrs.find((attr) => attr.name === 'href');
  if (!href) return false;

  // parse5 has already decoded entities (`&amp;` → `&`); the tracker gets the real URL.
  const destination = href.value.trim();
  if (!isHttpUrl(destination) || destination === links.unsubscribeUrl) return false;

  href.value = links.clickUrl(destination);
  return true;
}

/** Absolute http(s) URLs only: relative links have no host to track a click for. */
function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'http:' || protocol === 'https:';
}

function openPixel(url: string): string {
  return `<img src="${escapeAttribute(url)}" width="1" height="1" alt="" style="display:none">`;
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}
