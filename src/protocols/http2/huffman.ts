/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B) and its decoder.
 *
 * HUFFMAN_CODES / HUFFMAN_LENGTHS are Appendix B transcribed: for symbols 0..255 and EOS (256),
 * the code right-aligned ("code as hex") and its length in bits. Everything else here is derived
 * from them when the module loads: a code tree, then a state machine that consumes four input
 * bits per step (a state is an inner node of the tree; the shortest code is 5 bits, so a step
 * emits at most one symbol). The padding rule (§5.2) falls out of the tree: a string may end only
 * at the root or on the all-ones path at depth 1..7, and reaching EOS is an error.
 */

/** Appendix B "code as hex", symbol 0 first, EOS last. */
export const HUFFMAN_CODES: readonly number[] = [
  /*   0 */ 0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7,
  /*   8 */ 0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec,
  /*  16 */ 0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3,
  /*  24 */ 0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb,
  /*  32 */ 0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa,
  /*  40 */ 0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18,
  /*  48 */ 0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
  /*  56 */ 0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc,
  /*  64 */ 0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62,
  /*  72 */ 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
  /*  80 */ 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72,
  /*  88 */ 0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22,
  /*  96 */ 0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26,
  /* 104 */ 0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7,
  /* 112 */ 0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78,
  /* 120 */ 0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc,
  /* 128 */ 0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9,
  /* 136 */ 0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf,
  /* 144 */ 0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3,
  /* 152 */ 0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef,
  /* 160 */ 0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde,
  /* 168 */ 0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec,
  /* 176 */ 0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef,
  /* 184 */ 0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
  /* 192 */ 0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec,
  /* 200 */ 0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed,
  /* 208 */ 0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2,
  /* 216 */ 0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5,
  /* 224 */ 0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3,
  /* 232 */ 0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4,
  /* 240 */ 0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea,
  /* 248 */ 0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee,
  /* EOS */ 0x3fffffff,
];

/** Appendix B "len in bits", in the same order. */
export const HUFFMAN_LENGTHS: readonly number[] = [
  /*   0 */ 13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  /*  16 */ 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  /*  32 */ 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  /*  48 */ 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  /*  64 */ 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  /*  80 */ 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  /*  96 */ 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  /* 112 */ 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  /* 128 */ 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  /* 144 */ 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  /* 160 */ 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  /* 176 */ 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  /* 192 */ 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  /* 208 */ 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  /* 224 */ 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  /* 240 */ 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  /* EOS */ 30,
];

export const EOS = 256;

/** Why a Huffman string was refused. */
export type HuffmanError = 'EOS in string' | 'bad padding' | 'too long';

/* The code tree: node 0 is the root; child < 0 is a leaf holding symbol ~child. */
const MAX_NODES = 512;
const left = new Int16Array(MAX_NODES);
const right = new Int16Array(MAX_NODES);
let nodeCount = 1;

for (let sym = 0; sym <= EOS; sym++) {
  const code = HUFFMAN_CODES[sym]!;
  let node = 0;
  for (let bit = HUFFMAN_LENGTHS[sym]! - 1; bit >= 0; bit--) {
    const side = (code >>> bit) & 1 ? right : left;
    if (bit === 0) side[node] = ~sym;
    else {
      if (side[node] === 0) side[node] = nodeCount++;
      node = side[node]!;
    }
  }
}

/** Depth of each inner node on the all-ones path from the root (padding), else -1. */
const onesDepth = new Int8Array(nodeCount).fill(-1);
for (let node = 0, depth = 0; node >= 0 && depth < 30; node = right[node]!, depth++) onesDepth[node] = depth;

/*
 * One step per (state, nibble): the next state in bits 0..8, the emitted symbol in bits 9..16,
 * EMIT when a symbol was completed, FAIL when EOS was reached.
 */
const EMIT = 1 << 17;
const FAIL = 1 << 18;
const STEPS = new Int32Array(nodeCount * 16);

for (let state = 0; state < nodeCount; state++) {
  for (let nibble = 0; nibble < 16; nibble++) {
    let node = state;
    let out = 0;
    for (let bit = 3; bit >= 0; bit--) {
      const child = ((nibble >>> bit) & 1 ? right : left)[node]!;
      if (child >= 0) { node = child; continue; }
      if (~child === EOS) { out = FAIL; break; }
      out = EMIT | (~child << 9);
      node = 0;
    }
    STEPS[state * 16 + nibble] = out | node;
  }
}

/**
 * Decodes src[start, end) into out from index 0; returns the decoded length, or the reason it
 * was refused. `out.length` is the most bytes it may produce.
 */
export function decodeHuffman(src: Uint8Array, start: number, end: number, out: Uint8Array): number | HuffmanError {
  const limit = out.length;
  let state = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    for (let shift = 4; shift >= 0; shift -= 4) {
      const step = STEPS[state * 16 + ((byte >>> shift) & 15)]!;
      if (step & FAIL) return 'EOS in string';
      if (step & EMIT) {
        if (n >= limit) return 'too long';
        out[n++] = (step >>> 9) & 0xff;
      }
      state = step & 0x1ff;
    }
  }
  const depth = onesDepth[state]!;
  // A string ends on a symbol boundary or in fewer than 8 padding bits, all ones (§5.2).
  return depth >= 0 && depth <= 7 ? n : 'bad padding';
}
