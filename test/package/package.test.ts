/**
 * The package as another project gets it: `npm pack`, installed from the
 * tarball into an empty project that cannot reach onnxruntime's CUDA
 * download host, imported from TypeScript, type-checked, and run; and the
 * repository's own npm configuration, which must not make npm warn.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const MODEL = path.join(ROOT, 'models', 'color-isolated.onnx');

/** The environment of a plain shell: no npm_* variables from the npm that runs the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'ONNXRUNTIME_NODE_INSTALL' && k !== 'INIT_CWD'));
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], options: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 240_000, env: cleanEnv(), ...options });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe("the repository's npm configuration", () => {
  it('makes npm print no warnings: npx sca --help, and no install script left unreviewed', () => {
    const help = run('npx', ['sca', '--help'], { cwd: ROOT });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: sca');
    expect(help.stderr).not.toMatch(/npm warn/i);
    // What `npm ci` warns about: install scripts of dependencies that package.json's allowScripts does not cover.
    const pending = run('npm', ['approve-scripts', '--allow-scripts-pending', '--json'], { cwd: ROOT });
    expect(pending.stderr).not.toMatch(/npm warn/i);
    expect(JSON.parse(pending.stdout).allowScripts).toEqual([]);
    expect(fs.existsSync(path.join(ROOT, '.npmrc')), '.npmrc keys unknown to npm make every command warn').toBe(false);
  });
});

describe('the packed tarball in another project', () => {
  let dir: string;
  let tarball: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sca-package-'));
    expect(fs.existsSync(path.join(ROOT, 'dist', 'src', 'index.d.ts')), 'run npm run build').toBe(true);
    // The build is already there (npm test needs it); --ignore-scripts skips rebuilding it for the tarball.
    const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT });
    expect(pack.status, pack.stderr).toBe(0);
    tarball = path.join(dir, JSON.parse(pack.stdout)[0].filename);
  }, 120_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('holds the built library with its types, the CLI and the shipped model, and no tests or sources', () => {
    const list = run('tar', ['-tzf', tarball]).stdout.split('\n');
    for (const f of [
      'package/dist/src/index.js',
      'package/dist/src/index.d.ts',
      'package/dist/src/cli.js',
      'package/models/color-isolated.onnx',
      'package/models/color-anchored.onnx',
      'package/README.md',
    ])
      expect(list).toContain(f);
    expect(list.filter((f) => /\/test\/|\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('installs offline without the CUDA download, type-checks an import from TypeScript, and patches and compares', () => {
    const project = path.join(dir, 'consumer');
    fs.mkdirSync(project);
    // What the README tells a consumer to add: onnxruntime-node's install script (the CUDA download) does not run.
    fs.writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module', allowScripts: { 'onnxruntime-node': false } }, null, 2),
    );
    // Any attempt to reach the download host goes to a closed port and fails the install.
    const offline = cleanEnv({ GLOBAL_AGENT_HTTPS_PROXY: 'http://127.0.0.1:9', GLOBAL_AGENT_HTTP_PROXY: 'http://127.0.0.1:9' });
    const install = run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project, env: offline });
    expect(install.status, install.stderr).toBe(0);
    // npm lists a tarball's own prepare script as unreviewed (it lists none for a registry install); nothing else may warn.
    const warnings = install.stderr
      .split('\n')
      .filter((l) => /npm warn/i.test(l) && !/npm warn install-scripts( +sca-onnx@| *$| 1 package has| Run `npm install-scripts)/.test(l));
    expect(warnings).toEqual([]);
    expect(install.stderr).not.toMatch(/onnxruntime-node/);
    expect(fs.readdirSync(path.join(project, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64')).some((f) => /providers_cuda/.test(f))).toBe(
      false,
    );

    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: true,
          outDir: 'out',
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
        },
        files: ['main.ts'],
      }),
    );
    fs.writeFileSync(
      path.join(project, 'main.ts'),
      `import { loadModel, saveModel, patchModel, compareModels, ScaError, type ComparisonResult, type ScaErrorCode } from 'sca-onnx';

const [input, output] = process.argv.slice(2);
const model = loadModel(input);
const applied = await patchModel(model, [{ concept: 'red', mode: 'suppress' }]);
saveModel(model, output);
const { result }: { result: ComparisonResult } = await compareModels(input, output, { data: 'color-cube:4' });
let code: ScaErrorCode | undefined;
try {
  await patchModel(loadModel(input), [{ concept: 'blue', mode: 'suppress' }]);
} catch (err) {
  if (err instanceof ScaError) code = err.code;
}
// A model is an opaque handle: its protobuf is not part of the published types.
// @ts-expect-error proto is internal
void model.proto;
const red = result.color!.named.find((r) => r.name === 'red')!;
console.log(JSON.stringify({ nodes: applied[0].nodes, redRatio: red.ratio, selectivity: result.color!.selectivity, code }));
`,
    );
    const tsc = run(process.execPath, [TSC, '-p', '.'], { cwd: project });
    expect(tsc.status, tsc.stdout).toBe(0);
    const out = path.join(project, 'patched.onnx');
    const main = run(process.execPath, ['out/main.js', MODEL, out], { cwd: project });
    expect(main.status, main.stderr).toBe(0);
    const got = JSON.parse(main.stdout);
    expect(got.nodes).toBeGreaterThan(0);
    expect(got.redRatio).toBeGreaterThan(100);
    expect(got.code).toBe('NOT_FOUND');

    // The README's library example type-checks against the installed package.
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    fs.writeFileSync(path.join(project, 'readme.ts'), /```ts\n([\s\S]*?)```/.exec(readme)![1]);
    // Type-checks one file of the project against the installed package, as a user's strict tsconfig would.
    const typeCheck = (file: string) =>
      run(
        process.execPath,
        [
          TSC,
          '--noEmit',
          '--strict',
          '--module',
          'NodeNext',
          '--moduleResolution',
          'NodeNext',
          '--target',
          'ES2022',
          '--skipLibCheck',
          '--types',
          'node',
          '--typeRoots',
          path.join(ROOT, 'node_modules', '@types'),
          file,
        ],
        { cwd: project },
      );
    const example = typeCheck('readme.ts');
    expect(example.status, example.stdout).toBe(0);

    // The types are precise: a wrong mode does not type-check.
    fs.writeFileSync(
      path.join(project, 'bad.ts'),
      `import { patchModel, loadModel } from 'sca-onnx';\nawait patchModel(loadModel('m.onnx'), [{ tensor: 'z', mode: 'erase' }]);\n`,
    );
    const badCheck = typeCheck('bad.ts');
    expect(badCheck.status).not.toBe(0);
    expect(badCheck.stdout).toMatch(/'"erase"' is not assignable/);

    // The README's command works from the installed package.
    const demo = run('npx', ['--no-install', 'sca', 'demo', '--out', 'demo', '--json'], { cwd: project });
    expect(demo.status, demo.stderr).toBe(0);
    expect(JSON.parse(demo.stdout).suppressed.color.selectivity).toBeGreaterThan(0.5);
    expect(demo.stderr).not.toMatch(/npm warn/i);
  }, 240_000);
});
