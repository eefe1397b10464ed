#!/usr/bin/env node
// Post-link step of the mingw build: point the PE's delay-import data directory (entry 13) at the
// descriptor table dlltool -y produced. GNU ld links delay imports correctly (the thunks call
// __delayLoadHelper2 with the descriptor's address) but leaves that directory empty, so tools
// would not see NODE.EXE as an import at all. The script finds the descriptor by its contents
// (RVA-based attributes, a name RVA pointing at "NODE.EXE", non-zero IAT/INT RVAs), checks that a
// zero descriptor follows it (see delay_load_hook.cc), and writes { RVA, size } into the header.
//
//   node pe-delay-directory.mjs <file.node>
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: pe-delay-directory.mjs <file.node>');
  process.exit(2);
}
const buf = readFileSync(file);
const fail = (why) => {
  console.error(`pe-delay-directory: ${file}: ${why}`);
  process.exit(1);
};

if (buf.readUInt16LE(0) !== 0x5a4d) fail('not an MZ image');
const pe = buf.readUInt32LE(0x3c);
if (buf.readUInt32LE(pe) !== 0x00004550) fail('no PE signature');
const sectionCount = buf.readUInt16LE(pe + 6);
const optionalSize = buf.readUInt16LE(pe + 20);
const opt = pe + 24;
if (buf.readUInt16LE(opt) !== 0x20b) fail('not a PE32+ image');
const directoryCount = buf.readUInt32LE(opt + 108);
if (directoryCount < 14) fail('too few data directories');
const delayDirectory = opt + 112 + 13 * 8;

const sections = [];
for (let i = 0; i < sectionCount; i++) {
  const o = opt + optionalSize + 40 * i;
  sections.push({
    virtualSize: buf.readUInt32LE(o + 8),
    rva: buf.readUInt32LE(o + 12),
    rawSize: buf.readUInt32LE(o + 16),
    rawOffset: buf.readUInt32LE(o + 20),
  });
}
const offsetOf = (rva) => {
  for (const s of sections) {
    if (rva >= s.rva && rva < s.rva + Math.min(s.virtualSize || s.rawSize, s.rawSize)) {
      return s.rawOffset + (rva - s.rva);
    }
  }
  return undefined;
};
const rvaOf = (offset) => {
  for (const s of sections) {
    if (offset >= s.rawOffset && offset < s.rawOffset + s.rawSize)
      return s.rva + (offset - s.rawOffset);
  }
  return undefined;
};

const wanted = Buffer.from('NODE.EXE\0', 'latin1');
const nameRvas = new Set();
for (let at = buf.indexOf(wanted); at !== -1; at = buf.indexOf(wanted, at + 1)) {
  const rva = rvaOf(at);
  if (rva !== undefined) nameRvas.add(rva);
}
if (nameRvas.size === 0) fail('no "NODE.EXE" string: was the delay-import library linked?');

let found;
for (const s of sections) {
  for (let o = s.rawOffset; o + 64 <= s.rawOffset + s.rawSize; o += 4) {
    if (buf.readUInt32LE(o) !== 1) continue; // dlattrRva
    if (!nameRvas.has(buf.readUInt32LE(o + 4))) continue;
    const iat = buf.readUInt32LE(o + 12);
    const int = buf.readUInt32LE(o + 16);
    if (iat === 0 || int === 0 || offsetOf(iat) === undefined || offsetOf(int) === undefined)
      continue;
    found = o;
    break;
  }
  if (found !== undefined) break;
}
if (found === undefined) fail('no delay-import descriptor for NODE.EXE');
if (!buf.subarray(found + 32, found + 64).every((b) => b === 0)) {
  fail('the descriptor is not followed by a zero descriptor (terminator missing)');
}
const rva = rvaOf(found);
const current = {
  rva: buf.readUInt32LE(delayDirectory),
  size: buf.readUInt32LE(delayDirectory + 4),
};
if (current.rva === rva && current.size === 64) process.exit(0);
if (current.rva !== 0 && current.rva !== rva)
  fail(`delay directory already set to another RVA 0x${current.rva.toString(16)}`);
buf.writeUInt32LE(rva, delayDirectory);
buf.writeUInt32LE(64, delayDirectory + 4);
writeFileSync(file, buf);
console.log(`pe-delay-directory: NODE.EXE delay-import descriptor at RVA 0x${rva.toString(16)}`);
