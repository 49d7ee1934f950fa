import type { EmailLinks } from '../src/engine/channels/channel';
import { addEmailTracking } from '../src/engine/channels/email-tracking';

const UNSUBSCRIBE = 'https://nudge.example/u/msg-1?sig=abc';
const PIXEL = 'https://nudge.example/o/msg-1.gif?sig=abc&v=1';
const links: EmailLinks = {
  unsubscribeUrl: UNSUBSCRIBE,
  openPixelUrl: PIXEL,
  clickUrl: (destination) => `https://nudge.example/c/msg-1?to=${encodeURIComponent(destination)}`,
};
const tracked = (url: string) => links.clickUrl(url).replace(/&/g, '&amp;');
const PIXEL_TAG =
  '<img src="https://nudge.example/o/msg-1.gif?sig=abc&amp;v=1" width="1" height="1" alt="" style="display:none">';

describe('addEmailTracking', () => {
  it('points http and https links at the click tracker', async () => {
    const html = await addEmailTracking(
      '<p><a href="https://shop.example/cart?id=1&amp;x=2">Cart</a> ' +
        '<a class="b" href="http://shop.example/">Home</a></p>',
      links,
    );

    expect(html).toContain(`<a href="${tracked('https://shop.example/cart?id=1&x=2')}">Cart</a>`);
    expect(html).toContain(`<a class="b" href="${tracked('http://shop.example/')}">Home</a>`);
  });

  it('leaves mailto:, tel:, fragments, relative links and the unsubscribe URL alone', async () => {
    const body =
      '<a href="mailto:help@shop.example">Mail</a>' +
      '<a href="tel:+15550001111">Call</a>' +
      '<a href="#top">Top</a>' +
      '<a href="/relative">Rel</a>' +
      '<a name="anchor">No href</a>' +
      `<a href="${UNSUBSCRIBE}">Unsubscribe</a>`;

    const html = await addEmailTracking(body, links);

    expect(html).toBe(body + PIXEL_TAG);
  });

  it('inserts the open pixel just before </body>', async () => {
    const html = await addEmailTracking(
      '<!DOCTYPE html><html><head><title>T</title></head><body><p>Hi</p></body></html>',
      links,
    );

    expect(html).toBe(
      '<!DOCTYPE html><html><head><title>T</title></head><body><p>Hi</p>' +
        PIXEL_TAG +
        '</body></html>',
    );
  });

  it('appends the pixel when there is no </body>', async () => {
    expect(await addEmailTracking('<p>Hi</p>', links)).toBe('<p>Hi</p>' + PIXEL_TAG);
  });

  it('copies everything it does not change byte for byte', async () => {
    const body =
      "<div  data-x='1'>Caf&eacute; &amp; <b>bold</b><!-- note --><br/>" +
      '<style>a > b { color: red }</style><script>if (a < b) {}</script></div>';

    expect(await addEmailTracking(body, links)).toBe(body + PIXEL_TAG);
  });

  it('does not treat text that looks like a link as one', async () => {
    const body =
      '<p>Visit https://shop.example today</p><!-- <a href="https://x.example">x</a> -->';

    expect(await addEmailTracking(body, links)).toBe(body + PIXEL_TAG);
  });

  it('passes the decoded destination to clickUrl once per link', async () => {
    const seen: string[] = [];
    await addEmailTracking('<a href=" https://shop.example/?a=1&amp;b=2 ">x</a>', {
      ...links,
      clickUrl: (destination) => {
        seen.push(destination);
        return 'https://nudge.example/c';
      },
    });

    expect(seen).toEqual(['https://shop.example/?a=1&b=2']);
  });
});
