#!/usr/bin/python3
"""An independent reader of .kcap files written only from formats/kcap.md, to show the spec is
enough to write a second reader. Reads a finished capture through its TRAILER and INDEX, checks
every checksum and chunk rule the spec states, and prints what it found as JSON."""
import hashlib
import json
import struct
import sys

import msgpack
import zstandard

def _table():
    poly = 0x82F63B78  # 0x1EDC6F41 reflected
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t.append(c)
    return t

TABLE = _table()

def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF

def fail(msg):
    raise SystemExit(f"second reader: {msg}")

def block(f, offset):
    f.seek(offset)
    head = f.read(16)
    magic, btype, _flags, length, hcrc = struct.unpack("<IHHII", head)
    if magic != 0x4B4C424B or crc32c(head[:12]) != hcrc:
        fail(f"bad block header at {offset}")
    payload = f.read(length)
    (pcrc,) = struct.unpack("<I", f.read(4))
    if crc32c(payload) != pcrc:
        fail(f"bad payload crc at {offset}")
    return btype, payload, offset + 20 + length

def main(path):
    out = {}
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        f.seek(0)
        fh = f.read(16)
        if fh[:8] != b"KCAP\r\n\x1a\n" or crc32c(fh[:12]) != struct.unpack("<I", fh[12:])[0]:
            fail("bad file header")
        out["version"] = list(struct.unpack("<HH", fh[8:12]))
        btype, p, nxt = block(f, 16)
        if btype != 1:
            fail("first block is not HEADER")
        h = msgpack.unpackb(p, raw=False)
        out["header"] = {"writer": h["writer"], "hostname": h["machine"]["hostname"], "bootNs": h["clock"]["bootNs"],
                         "realtimeNs": h["clock"]["realtimeNs"], "snaplen": h["snaplen"], "chunkSize": h["chunkSize"]}
        btype, p, nxt = block(f, nxt)
        if btype != 2:
            fail("second block is not SCHEMA")
        out["schemaVersion"] = json.loads(p.decode("utf-8"))["version"]
        tables = {}
        while True:
            btype, p, after = block(f, nxt)
            if btype != 3:
                break
            t = msgpack.unpackb(p, raw=False)
            tables[t["kind"]] = tables.get(t["kind"], 0) + len(t["rows"])
            nxt = after
        out["tables"] = tables
        btype, p, _ = block(f, size - 52)
        if btype != 7 or len(p) != 32 or p[24:] != b"KCAPEND\n":
            fail("no trailer")
        index_off, stats_off, n_chunks, _res = struct.unpack("<QQII", p[:24])
        btype, p, _ = block(f, stats_off)
        if btype != 5:
            fail("statsOffset is not STATS")
        stats = msgpack.unpackb(p, raw=False)
        out["stats"] = {"records": stats["records"], "lost": stats["lost"], "final": stats["final"]}
        btype, p, _ = block(f, index_off)
        if btype != 6:
            fail("indexOffset is not INDEX")
        n, esize = struct.unpack("<II", p[:8])
        if n != n_chunks:
            fail("index/trailer chunk count differ")
        dctx = zstandard.ZstdDecompressor()
        sha = hashlib.sha256()
        chunks = []
        for i in range(n):
            off, bsize, seq, count, raw_len, first, last = struct.unpack("<QIIIIQQ", p[8 + i * esize: 8 + i * esize + 40])
            btype, payload, end = block(f, off)
            if btype != 4 or end - off != bsize:
                fail(f"index entry {i} does not point at its EVENTS block")
            mseq, mcount, mraw, codec, _r, mfirst, mlast, lost = struct.unpack("<IIIHHQQQ", payload[:40])
            if (mseq, mcount, mraw, mfirst, mlast) != (seq, count, raw_len, first, last) or codec != 1:
                fail(f"chunk {seq} meta differs from index")
            raw = dctx.decompress(payload[40:], max_output_size=mraw)
            if len(raw) != mraw:
                fail(f"chunk {seq} raw size")
            at, k, lo, hi = 0, 0, None, None
            while at < len(raw):
                rlen, _type, _cpu, ts = struct.unpack("<IHHQ", raw[at:at + 16])
                if rlen < 24 or at + rlen > len(raw):
                    fail(f"chunk {seq} framing")
                lo = ts if lo is None else min(lo, ts)
                hi = ts if hi is None else max(hi, ts)
                at += rlen
                k += 1
            if k != mcount or lo != mfirst or hi != mlast:
                fail(f"chunk {seq} count or time range")
            sha.update(raw)
            chunks.append({"seq": seq, "count": count, "firstTs": str(first), "lastTs": str(last), "lostBefore": lost})
        out["chunks"] = chunks
        out["recordsSha256"] = sha.hexdigest()
    print(json.dumps(out, sort_keys=True))

main(sys.argv[1])
