// Package mail owns Tessera's outgoing mail for sign-in flows: the message
// templates (password reset, email verification, account unlock, password
// changed), the SMTP sender, the development mailbox, and the asynchronous
// delivery queue.
//
// Flow: a flow renders a Message with one of the template functions
// (PasswordReset, EmailVerification, ...) and hands it to Queue.Enqueue, which
// validates it and returns at once; a few workers deliver it through a Sender
// (SMTP in production, Mailbox when no SMTP host is configured), retrying with
// exponential backoff. HTTP handlers therefore never wait on SMTP, and "forgot
// password" answers in the same time whether or not the account exists.
//
// Messages carry single-use secrets (reset and verification links). This
// package never logs a body or a link, and logs recipients redacted
// ("a***@example.com"); the one exception is the development Mailbox, whose
// purpose is to show the developer the link, and whose page answers only
// loopback clients.
//
// It must not import domains, the store or web: it knows strings, not users.
// It must not downgrade TLS: "starttls" fails when the server does not offer
// STARTTLS, and plain SMTP is allowed only to a loopback host. No package-level
// mutable state: senders, queues and mailboxes are values built by server.
package mail
