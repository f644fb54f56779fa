/**
 * The one error type the capture reader and writer throw. A capture is untrusted input, so every
 * failure, whatever bytes caused it, surfaces as a CaptureError that says what went wrong and
 * where (block number and file offset when known); callers never see a stray RangeError.
 */

export type CaptureErrorCode =
  /** The file could not be opened, read or written (errno in `cause`). */
  | 'io'
  /** The first bytes are not a kcap file header. */
  | 'not-kcap'
  /** The file's major version is newer than this reader understands. */
  | 'version'
  /** The file ends inside a block, or a block the reader needs is missing. */
  | 'truncated'
  /** A block's header or payload checksum does not match. */
  | 'checksum'
  /** A block is well framed but its content is invalid. */
  | 'corrupt'
  /** A length or count in the file exceeds a reader limit. */
  | 'limit'
  /** The embedded event schema is unusable. */
  | 'schema'
  /** Bytes given to the writer are not whole records. */
  | 'record'
  /** The reader or writer was used after close (or the writer after a failed write). */
  | 'closed';

export interface CaptureErrorWhere {
  /** Ordinal of the block in the file, from 0 (the HEADER block). */
  readonly block?: number;
  /** Byte offset in the file. */
  readonly offset?: number;
  readonly cause?: unknown;
}

export class CaptureError extends Error {
  override readonly name = 'CaptureError';
  readonly block: number | undefined;
  readonly offset: number | undefined;
  /** The message without the location suffix, for callers that re-frame it. */
  readonly detail: string;

  constructor(readonly code: CaptureErrorCode, message: string, where: CaptureErrorWhere = {}) {
    super(describe(message, where), where.cause === undefined ? undefined : { cause: where.cause });
    this.detail = message;
    this.block = where.block;
    this.offset = where.offset;
  }
}

function describe(message: string, where: CaptureErrorWhere): string {
  const at = [
    where.block !== undefined ? `block ${where.block}` : '',
    where.offset !== undefined ? `offset ${where.offset}` : '',
  ].filter(Boolean).join(', ');
  return at ? `${message} (${at})` : message;
}

/** Wraps anything thrown by a decoder we call (msgpack, zstd, JSON) into a CaptureError. */
export function asCaptureError(err: unknown, code: CaptureErrorCode, what: string, where: CaptureErrorWhere = {}): CaptureError {
  if (err instanceof CaptureError) return err;
  const reason = err instanceof Error ? errnoText(err) : String(err);
  return new CaptureError(code, `${what}: ${reason}`, { ...where, cause: err });
}

/** "ENOENT: no such file or directory, open '/x'" → "no such file or directory"; other messages as they are. */
function errnoText(err: Error): string {
  const m = /^E[A-Z]+: ([^,]+)/.exec(err.message);
  return m ? m[1]! : err.message;
}
