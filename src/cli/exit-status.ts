/**
 * The exit status a command asks for when it ends without an error: `exec`
 * passes on its child's. main reads it; nothing else exits the process.
 */
export const childStatus: { value: number | undefined } = { value: undefined };

/**
 * What may still be open when a command is done and the process may end at
 * once: the standard streams' handles, idle worker ports, a descriptor being
 * closed. A write still queued to a full pipe, a timer or a child is not.
 */
const IDLE_AT_THE_END = new Set(['PipeWrap', 'TTYWrap', 'TCPWrap', 'MessagePort', 'CloseReq']);

/**
 * Whether the process may end now, given what is in flight
 * (process.getActiveResourcesInfo()). Left to end by itself, Node first runs
 * the V8 tasks still pending (in a 1 KiB decrypt, a young-generation
 * collection of a heap about to go) and then frees the heap page by page: on
 * the bench's VM ~25 ms of CPU and up to ~10 ms of wall time of every run.
 */
export function mayEndNow(inFlight: readonly string[]): boolean {
  return inFlight.every((resource) => IDLE_AT_THE_END.has(resource));
}
