#!/usr/bin/env node
/**
 * The `sca` command. Every command is a thin wrapper over a library function
 * that the tests call directly; this file only parses options and prints.
 * A ScaError (UsageError included) becomes one line on stderr, in the
 * CLI's words, and exit code 2; anything else is a bug: one line saying
 * "internal error" and exit code 3, with the stack trace only when
 * SCA_DEBUG=1 is set.
 */
import { spawn } from 'node:child_process';
import { realpathSync, rmSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import './domains/index.js';
import { ScaError } from './errors.js';
import { cliWording } from './cli/wording.js';
import { DecodeError } from './onnx/codec.js';
import { fsReason, isEnvironmentFault } from './util/files.js';
import { foldersNamedIn, onTemporaryNotice, temporariesOf } from './util/temporaries.js';
import { registerAblate } from './cli/ablate.js';
import { registerAnchor } from './cli/anchor.js';
import { registerCheck } from './cli/check.js';
import { registerCompare } from './cli/compare.js';
import { registerDemo } from './cli/demo.js';
import type { Context, Io } from './cli/context.js';
import { registerInspect } from './cli/inspect.js';
import { registerPatch } from './cli/patch.js';
import { registerProbe } from './cli/probe.js';
import { registerTrain } from './cli/train.js';

const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

export function buildProgram(ctx: Context): Command {
  const { io } = ctx;
  const program = new Command('sca')
    .description('Post-training interventions on ONNX models trained with Sparse Concept Anchoring')
    .version('0.1.0')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();
  registerInspect(program, ctx);
  registerPatch(program, ctx);
  registerAblate(program, ctx);
  registerAnchor(program, ctx);
  registerTrain(program, ctx);
  registerCompare(program, ctx);
  registerCheck(program, ctx);
  registerProbe(program, ctx);
  registerDemo(program, ctx);
  const configure = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err });
    cmd.commands.forEach(configure);
  };
  program.commands.forEach(configure);
  return program;
}

/** Exit code for a bug (anything but a usage error escaped a command). */
export const INTERNAL_ERROR = 3;

/** One line for a bug, or the whole trace when SCA_DEBUG=1 (or any value but 0/empty) is set. */
export function reportInternalError(err: unknown, io: Io): number {
  const debug = process.env.SCA_DEBUG && process.env.SCA_DEBUG !== '0';
  if (debug) io.err(`sca: internal error: ${err instanceof Error && err.stack ? err.stack : String(err)}\n`);
  else {
    const text = (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).replace(/\s+/g, ' ').slice(0, 300);
    io.err(`sca: internal error (a bug in sca; SCA_DEBUG=1 prints the trace): ${text}\n`);
  }
  return INTERNAL_ERROR;
}

/** Runs the CLI and returns its exit code: 0 success, 1 a check failed, 2 bad input, 3 internal error. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const ctx: Context = { io, exitCode: 0 };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message (or the help text).
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof ScaError) {
      io.err(`sca: ${cliWording(err.message).replace(/\n/g, ' ')}\n`);
      return 2;
    }
    // A full disk or a read-only folder is the environment's fault, not a bug.
    if (isEnvironmentFault(err)) {
      io.err(`sca: ${err.path ?? (err as { dest?: string }).dest ?? 'a file'}: ${fsReason(err)}\n`);
      return 2;
    }
    // Loaders name the file; this only catches a decode path that forgot to.
    if (err instanceof DecodeError) {
      io.err(`sca: not a valid ONNX file (truncated or corrupt: ${err.message})\n`);
      return 2;
    }
    return reportInternalError(err, io);
  }
}

function isEntryPoint(): boolean {
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/**
 * The `sca` process runs each command in a child and watches it. Writes are
 * synchronous, so a signal handler in the writing process would run only
 * once the write was done; the supervisor stays free to act at once. On
 * SIGINT, SIGTERM or SIGHUP it passes the signal on, removes whatever
 * temporary outputs the child left (their names carry its pid), says so in
 * one line and exits with the conventional 128 + signal number.
 */
function supervise(args: string[]): void {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], {
    stdio: 'inherit',
    env: { ...process.env, SCA_SUPERVISED: '1' },
  });
  let interrupted: NodeJS.Signals | undefined;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      interrupted ??= signal;
      child.kill(signal);
    });
  }
  child.on('exit', (code, signal) => {
    const left = child.pid === undefined ? [] : temporariesOf(child.pid, foldersNamedIn(args));
    for (const t of left) rmSync(t, { recursive: true, force: true });
    const by = interrupted ?? signal;
    if (by) {
      const removed = left.length
        ? `; removed ${left.length} unfinished temporary ${left.length === 1 ? 'output' : 'outputs'}, so nothing is half-written`
        : '';
      process.stderr.write(`sca: interrupted by ${by}${removed}\n`);
      process.exit(128 + (osConstants.signals[by] ?? 0));
    }
    process.exit(code ?? 1);
  });
}

if (isEntryPoint()) {
  if (process.env.SCA_SUPERVISED === '1') {
    onTemporaryNotice((line) => process.stderr.write(`sca: ${line}\n`));
    main(process.argv.slice(2)).then(
      (code) => {
        process.exitCode = code;
      },
      (err) => {
        process.exitCode = reportInternalError(err, processIo);
      },
    );
  } else {
    supervise(process.argv.slice(2));
  }
}
