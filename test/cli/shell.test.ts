// The shell's session object: completion, handle bookkeeping and save, without a terminal.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createModelBridge } from '../../src/backends/model.js';
import type { Args } from '../../src/cli/command.js';
import { ShellSession } from '../../src/cli/commands/shell.js';
import { createContext } from '../../src/cli/context.js';
import { parseScenario } from '../../src/scenario/parse.js';
import { tempDir } from './helpers.js';

let bridge = createModelBridge();
afterEach(async () => {
  await bridge.dispose();
  bridge = createModelBridge();
});

function session(): { s: ShellSession; out: () => string } {
  let text = '';
  const sink = {
    write: (t: string) => {
      text += t;
    },
  };
  const ctx = createContext({ color: false, stdout: sink, stderr: sink });
  return { s: new ShellSession(bridge, ctx, { _: [] } as unknown as Args), out: () => text };
}

describe('shell completion', () => {
  it('completes verbs, open handles, levels and open options', async () => {
    const { s } = session();
    await s.start();
    await s.execute('mkfile data.txt 10');
    await s.execute('open h1 data.txt rw');
    expect(s.complete('op')[0]).toEqual(['open', 'oplock']);
    expect(s.complete('oplock ')[0]).toEqual(['h1']);
    expect(s.complete('oplock h1 R')[0]).toEqual(['R', 'RW', 'RH', 'RWH']);
    expect(s.complete('open ')[0]).toEqual(['h2']);
    expect(s.complete('open h2 d')[0]).toEqual(['data.txt']);
    expect(s.complete('open h2 data.txt disp=o')[0]).toEqual([
      'disp=open',
      'disp=open-if',
      'disp=overwrite',
      'disp=overwrite-if',
    ]);
    expect(s.complete('open h2 data.txt opts=complete')[0]).toEqual(['opts=complete_if_oplocked']);
    expect(s.complete('ack h1 ')[0]).toContain('no-2');
    expect(s.complete('lock h1 0 10 w')[0]).toEqual(['wait']);
    expect(s.complete('help loc')[0]).toEqual(['lock']);
    await s.close();
  });

  it('cancel and wait complete the steps in flight', async () => {
    const { s } = session();
    await s.start();
    await s.execute('mkfile f 1');
    await s.execute('open h1 f rw');
    await s.execute('oplock h1 RWH');
    expect(s.complete('cancel ')[0]).toEqual(['2']);
    await s.execute('cancel 2');
    expect(s.complete('cancel ')[0]).toEqual([]);
    await s.close();
  });
});

describe('shell session', () => {
  it('reusing the name of a handle whose open failed records a close, so the saved file stays valid', async () => {
    const { s, out } = session();
    await s.start();
    await s.execute('mkfile f 1');
    await s.execute('open h1 f rw share=none');
    await s.execute('open h2 f rw');
    expect(out()).toMatch(/→ 2 open h2 f read,write: STATUS_SHARING_VIOLATION/);
    await s.execute('close h1');
    await s.execute('open h2 f rw');
    expect(out()).toMatch(/→ 5 open h2 f read,write: STATUS_SUCCESS/);
    const file = join(tempDir(), 's.yaml');
    await s.execute(`save ${file}`);
    const saved = parseScenario(readFileSync(file, 'utf8'), file);
    expect(saved.steps.map((x) => x.verb)).toEqual(['open', 'open', 'close', 'close', 'open']);
    expect(saved.setup).toEqual([
      { path: 'f', directory: false, size: 1n, line: expect.any(Number) },
    ]);
    expect(saved.steps[1]?.expect?.status).toEqual({ kind: 'codes', codes: [0xc0000043] });
    await s.execute(`save ${file} --bare`);
    expect(
      parseScenario(readFileSync(file, 'utf8'), file).steps.every((x) => x.expect === undefined),
    ).toBe(true);
    await s.close();
  });

  it('help, handles and pending', async () => {
    const { s, out } = session();
    await s.start();
    await s.execute('help lock');
    expect(out()).toContain('lock <h> <offset> <length> [excl|shared] [wait]');
    await s.execute('handles');
    expect(out()).toContain('(no open handles)');
    await s.execute('pending');
    expect(out()).toContain('(nothing in flight)');
    expect(await s.execute('exit')).toBe(false);
    await s.close();
  });
});
