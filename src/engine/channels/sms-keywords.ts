/** What an inbound SMS asks for, when it is one of the carrier-standard keywords. */
export type SmsKeyword = 'OPT_OUT' | 'OPT_IN';

/**
 * The opt-out words carriers and Twilio honour (CTIA). A reply of exactly one of them must
 * stop further messages from that sender.
 */
const OPT_OUT_WORDS: ReadonlySet<string> = new Set([
  'STOP',
  'STOPALL',
  'UNSUBSCRIBE',
  'CANCEL',
  'END',
  'QUIT',
]);

/**
 * Opt-in words. `YES` is left out on purpose: people answer "yes" to questions in ordinary
 * conversation, and that must not silently re-subscribe someone who opted out.
 */
const OPT_IN_WORDS: ReadonlySet<string> = new Set(['START', 'UNSTOP']);

/**
 * Classifies an inbound SMS body. Only a message that is a keyword and nothing else counts:
 * "Stopwatch arrived broken" and "please stop" are null, "  Stop \n" is `OPT_OUT`.
 * Case-insensitive; leading and trailing Unicode whitespace (incl. line breaks and
 * non-breaking spaces) is ignored. Pure.
 */
export function smsKeyword(body: string): SmsKeyword | null {
  // toUpperCase, not toLocaleUpperCase: the result must not depend on the server's locale.
  const word = body.trim().toUpperCase();
  if (OPT_OUT_WORDS.has(word)) return 'OPT_OUT';
  if (OPT_IN_WORDS.has(word)) return 'OPT_IN';
  return null;
}
