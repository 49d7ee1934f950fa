import { smsKeyword } from '../src/engine/channels/sms-keywords';

/** Carrier keywords count only as the whole message (CTIA; Twilio's default handling). */
describe('smsKeyword', () => {
  it.each(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT'])('%s opts out', (word) => {
    expect(smsKeyword(word)).toBe('OPT_OUT');
  });

  it.each(['START', 'UNSTOP'])('%s opts in', (word) => {
    expect(smsKeyword(word)).toBe('OPT_IN');
  });

  it.each(['stop', 'Stop', 'sToPaLl', 'unsubscribe', 'start', 'Unstop'])(
    '%j is matched case-insensitively',
    (word) => {
      expect(smsKeyword(word)).not.toBeNull();
    },
  );

  it.each([
    ['  Stop \n', 'OPT_OUT'],
    ['\tSTOP\r\n', 'OPT_OUT'],
    ['\u00a0stop\u00a0', 'OPT_OUT'], // no-break space
    ['\u3000QUIT\u2028', 'OPT_OUT'], // ideographic space, line separator
    ['\n\nstart\n', 'OPT_IN'],
  ])('surrounding whitespace %j is ignored', (body, expected) => {
    expect(smsKeyword(body)).toBe(expected);
  });

  it.each([
    'Stopwatch arrived broken',
    'please stop',
    'STOP!',
    'STOP.',
    'stop stop',
    'STOP ALL',
    'S T O P',
    'YES', // deliberately not an opt-in: people say yes to other questions
    'Y',
    'HELP',
    '',
    '   ',
    'starts tomorrow',
  ])('%j is not a keyword', (body) => {
    expect(smsKeyword(body)).toBeNull();
  });
});
