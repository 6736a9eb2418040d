import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeReply, encodeCommand, encodeValue, ReplyDecoder, RequestParser, type RespValue } from '../../src/resp/index.js';
import { allSplits, cutAt, parseChunks, scanChunks } from './chunking.js';
import { asResp2, asResp3, respValue, typeByte } from './values.js';

/** Cut positions for a stream of `len` bytes (fast-check shrinks them nicely). */
const cuts = (len: number) => fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, len - 1) }), { maxLength: 30 }).map((a) => a.sort((x, y) => x - y));

const arg = fc.oneof(
  fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a)),
  fc.constantFrom('GET', 'SET', 'k', '', '\r\n', '$', '*', '"', "'", '\\').map((s) => Buffer.from(s)),
);
const command = fc.array(arg, { minLength: 1, maxLength: 6 });

/** Writes a command inline with double quotes and \xHH escapes, so any bytes survive. */
function inlineLine(args: Buffer[], eol: string): Buffer {
  const parts = args.map((a) => {
    let s = '"';
    for (const b of a) s += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
    return `${s}"`;
  });
  return Buffer.from(`${parts.join(' ')}${eol}`, 'latin1');
}

test('random pipelined commands (multibulk and inline) round-trip at every chunking', () => {
  const item = fc.record({ args: command, form: fc.constantFrom('multibulk', 'multibulk', 'inline-crlf', 'inline-lf') });
  fc.assert(
    fc.property(fc.array(item, { minLength: 1, maxLength: 12 }).chain((items) => {
      const data = Buffer.concat(items.map((it) =>
        it.form === 'multibulk' ? encodeCommand(it.args) : inlineLine(it.args, it.form === 'inline-crlf' ? '\r\n' : '\n')));
      return fc.tuple(fc.constant(items), fc.constant(data), cuts(data.length));
    }), ([items, data, at]) => {
      const got = parseChunks(cutAt(data, at));
      assert.equal(got.length, items.length);
      items.forEach((it, i) => {
        assert.deepEqual(got[i].args, it.args.map((a) => a.toString('latin1')));
        assert.equal(got[i].inline, it.form !== 'multibulk');
        assert.equal(got[i].raw, encodeCommand(it.args).toString('latin1'));
      });
    }),
    { numRuns: 300 },
  );
});

test('small pipelines parse identically at every single split point and byte by byte', () => {
  fc.assert(
    fc.property(fc.array(command, { minLength: 1, maxLength: 3 }), (cmds) => {
      const data = Buffer.concat(cmds.map((c) => encodeCommand(c)));
      const want = cmds.map((c) => c.map((a) => a.toString('latin1')));
      for (const chunks of allSplits(data)) assert.deepEqual(parseChunks(chunks).map((c) => c.args), want);
    }),
    { numRuns: 60 },
  );
});

test('random RESP3 values round-trip through encode, scanning at any chunking, and decode', () => {
  fc.assert(
    fc.property(fc.array(respValue, { minLength: 1, maxLength: 5 }).chain((vals) => {
      const frames = vals.map((v) => encodeValue(v, 3));
      const data = Buffer.concat(frames);
      return fc.tuple(fc.constant(vals), fc.constant(frames), cuts(data.length));
    }), ([vals, frames, at]) => {
      const got = scanChunks(cutAt(Buffer.concat(frames), at));
      assert.equal(got.length, vals.length);
      vals.forEach((v, i) => {
        assert.deepEqual(got[i].frame, frames[i], 'frame is the original bytes');
        assert.equal(got[i].type, typeByte(v, 3));
        assert.deepEqual(decodeReply(got[i].frame), asResp3(v));
      });
    }),
    { numRuns: 300 },
  );
});

test('RESP3 values down-convert for RESP2 clients the way Redis does', () => {
  fc.assert(
    fc.property(respValue, fc.integer({ min: 1, max: 64 }), (v, step) => {
      const bytes = encodeValue(v, 2);
      const d = new ReplyDecoder();
      const got: RespValue[] = [];
      for (let i = 0; i < bytes.length; i += step) {
        d.feed(bytes.subarray(i, i + step));
        let x;
        while ((x = d.next()) !== undefined) got.push(x);
      }
      assert.deepEqual(got, [asResp2(v)]);
      assert.equal(scanChunks([bytes])[0].type, typeByte(v, 2));
      assert.ok(!/[_,#(=%~>|!]/.test(String.fromCharCode(bytes[0])), 'only RESP2 type bytes at the top');
    }),
    { numRuns: 300 },
  );
});

test('encoded values scan identically at every single split point', () => {
  fc.assert(
    fc.property(fc.array(respValue, { minLength: 1, maxLength: 3 }), (vals) => {
      const data = Buffer.concat(vals.map((v) => encodeValue(v, 3)));
      if (data.length > 400) return;
      const want = scanChunks([data]).map((f) => f.frame);
      assert.equal(want.length, vals.length);
      for (const chunks of allSplits(data)) assert.deepEqual(scanChunks(chunks).map((f) => f.frame), want);
    }),
    { numRuns: 40 },
  );
});

test('parser keeps working across many feeds of pipelined random commands (stream of 2000)', () => {
  const p = new RequestParser();
  fc.assert(
    fc.property(command, fc.integer({ min: 1, max: 50 }), (args, step) => {
      const data = encodeCommand(args);
      const got = [];
      for (let i = 0; i < data.length; i += step) {
        p.feed(data.subarray(i, i + step));
        let c;
        while ((c = p.next())) got.push(c.args.map((a) => a.toString('latin1')));
      }
      assert.deepEqual(got, [args.map((a) => a.toString('latin1'))]);
      assert.equal(p.bufferedBytes(), 0);
    }),
    { numRuns: 2000 },
  );
});
