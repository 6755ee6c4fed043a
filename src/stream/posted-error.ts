// A system error as it crosses between threads: a worker or the reader thread
// posts what failed, and the thread that reports it makes an Error of it again.
// An Error posted as it is loses its code and system call, which are what
// ioError (src/errors.ts) words its one line from.

/** What a failed read or write says, in a form that posts between threads. */
export interface PostedError {
  readonly code?: string;
  readonly syscall?: string;
  readonly message: string;
}

/** `e`, caught on a worker, to post. */
export function postable(e: unknown): PostedError {
  const { code, syscall } = (e ?? {}) as NodeJS.ErrnoException;
  return {
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof syscall === 'string' ? { syscall } : {}),
    message: e instanceof Error ? e.message : String(e),
  };
}

/** The posted error as an Error again, with its code and system call. */
export function revived(posted: PostedError): NodeJS.ErrnoException {
  return Object.assign(new Error(posted.message), {
    ...(posted.code ? { code: posted.code } : {}),
    ...(posted.syscall ? { syscall: posted.syscall } : {}),
  });
}
