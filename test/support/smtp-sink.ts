import { ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * A real local SMTP server that keeps what it is sent, parsed by mailparser. It can refuse
 * the next message with a reply code, or take the next message body and never answer it
 * (the "did it go through?" case after DATA).
 */
export class SmtpSink {
  url = '';
  readonly messages: ParsedMail[] = [];
  private readonly replies: { code: number; text: string }[] = [];
  private stalls = 0;
  private readonly server = new SMTPServer({
    authOptional: true,
    // Plain SMTP on loopback; nodemailer would otherwise try the sink's self-signed STARTTLS.
    disabledCommands: ['STARTTLS', 'AUTH'],
    closeTimeout: 100,
    onData: (stream, _session, callback) => {
      simpleParser(stream).then(
        (parsed) => {
          const reply = this.replies.shift();
          if (reply)
            return callback(Object.assign(new Error(reply.text), { responseCode: reply.code }));
          if (this.stalls > 0) {
            this.stalls--;
            return; // never answer the end of DATA
          }
          this.messages.push(parsed);
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = this.server.server.address() as { port: number };
    this.url = `smtp://127.0.0.1:${port}`;
  }

  /** The next message is refused at the end of DATA with this reply. */
  rejectNext(code: number, text: string): void {
    this.replies.push({ code, text });
  }

  /** The next message body is read, and the final reply never comes. */
  stallNext(): void {
    this.stalls++;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const sink = new SmtpSink();
  await sink.listen();
  return sink;
}
