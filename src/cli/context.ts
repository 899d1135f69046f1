/** What every command's action gets: where to print, and the exit code to return. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export interface Context {
  io: Io;
  /** 0 unless a command reports a failed check (1); usage errors are thrown instead. */
  exitCode: number;
}
