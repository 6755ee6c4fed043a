/**
 * The exit status a command asks for when it ends without an error: `exec`
 * passes on its child's. main reads it; nothing else exits the process.
 */
export const childStatus: { value: number | undefined } = { value: undefined };
