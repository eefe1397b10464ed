/**
 * The README's library example must stay true: this runs the same steps on the model and checks
 * every value the README's comments claim, and checks the README still shows those steps.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createModelBridge, NtStatus } from '../../src/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe("README 'The library' example", () => {
  it('still shows the steps this test runs', () => {
    const block = readme.split('## The library')[1]?.split('```')[1] ?? '';
    for (const line of [
      "createModelBridge({ files: { 'C:\\\\report.docx': 4096 } })",
      "{ access: 'read,write', share: 'read' }",
      "bridge.requestOplock(a, { level: 'RWH' })",
      "{ access: 'write', share: 'read,write', process: 2 }",
      "{ newLevel: 'RW', ackRequired: true, ... }",
      "bridge.acknowledgeOplock(a, { kind: 'ack', level: 'RW' })",
      'NtStatus.STATUS_SHARING_VIOLATION',
    ]) {
      expect(block).toContain(line);
    }
  });

  it('behaves as its comments say on the model', async () => {
    const bridge = createModelBridge({ files: { 'C:\\report.docx': 4096 } });
    const seen: string[] = [];
    bridge.subscribe((event) => seen.push(event.type));

    const opened = await bridge.open('C:\\report.docx', { access: 'read,write', share: 'read' })
      .result;
    expect(opened.status).toBe(NtStatus.STATUS_SUCCESS);
    const a = opened.handle!;
    const oplock = bridge.requestOplock(a, { level: 'RWH' });
    expect(oplock.completed).toBeUndefined(); // granted: held until a break

    const b = bridge.open('C:\\report.docx', { access: 'write', share: 'read,write', process: 2 });
    const broken = await oplock.result;
    expect(broken).toMatchObject({ newLevel: 'RW', ackRequired: true });
    await bridge.settle();
    expect(b.completed).toBeUndefined(); // B waits for the acknowledgement

    bridge.acknowledgeOplock(a, { kind: 'ack', level: 'RW' });
    expect((await b.result).status).toBe(NtStatus.STATUS_SHARING_VIOLATION);
    expect(seen).toContain('oplock-break');
    expect(seen).toContain('oplock-break-completed');
    await bridge.dispose();
  });
});
