export interface Email {
  to: string;
  subject: string;
  text: string;
}

/** The email port: Cloudflare's send_email binding in production (locally it writes .eml files). */
export interface EmailSender {
  send(email: Email): Promise<void>;
}

export function sendEmailBinding(binding: SendEmail, from: string): EmailSender {
  return {
    async send(email) {
      // Loaded on first use: the consumer module is also imported by plain-Node unit tests.
      const { EmailMessage } = await import("cloudflare:email");
      await binding.send(new EmailMessage(from, email.to, mime(from, email)));
      console.log(JSON.stringify({ level: "info", msg: "email sent", to: email.to, subject: email.subject }));
    },
  };
}

/** Without a binding (a config that has none) the email is only logged, never silently lost. */
export const loggedOnly: EmailSender = {
  async send(email) {
    console.log(JSON.stringify({ level: "info", msg: "email not sent: no EMAIL binding", to: email.to, subject: email.subject }));
  },
};

export function emailFor(env: { EMAIL?: SendEmail; EMAIL_FROM?: string }): EmailSender {
  return env.EMAIL ? sendEmailBinding(env.EMAIL, env.EMAIL_FROM || "tickets@evently.example") : loggedOnly;
}

function mime(from: string, e: Email): string {
  const header = (s: string) => s.replace(/[\r\n]+/g, " ");
  return [
    `From: Evently <${header(from)}>`,
    `To: ${header(e.to)}`,
    `Subject: ${header(e.subject)}`,
    `Message-ID: <${crypto.randomUUID()}@${from.split("@")[1] ?? "evently.example"}>`,
    `Date: ${new Date().toUTCString()}`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    e.text,
  ].join("\r\n");
}
