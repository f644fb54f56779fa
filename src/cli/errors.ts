/**
 * Errors meant for the person at the terminal: printed as one line, never as a stack trace.
 * Library layers throw their own typed errors; commands translate them into a UserError.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
