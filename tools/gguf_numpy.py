"""A small GGUF reader and weight dequantizers in numpy, written from the GGUF/ggml format
description independently of the C++ code, for the reference forward (ref_forward.py).

read_gguf(path) -> (metadata dict, {name: (type_id, shape, raw bytes)})
dequantize(type_id, raw, shape) -> float64 array of shape reversed(shape) (rows, cols)
"""
import struct

import numpy as np

# ggml type id -> (name, elements per block, bytes per block)
TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210),
    30: ("BF16", 1, 2), 39: ("MXFP4", 32, 17), 20: ("IQ4_NL", 32, 18), 23: ("IQ4_XS", 256, 136),
}

# The 16 levels of IQ4_NL / IQ4_XS (ggml's kvalues_iq4nl).
_IQ4NL = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], dtype=np.float64)

# MXFP4's 4-bit E2M1 floats, from the OCP microscaling spec: sign bit 3, exponent bits 2-1
# (bias 1; exponent 0 is subnormal: 0 or 0.5), mantissa bit 0.
_E2M1 = np.array([(-1.0 if c & 8 else 1.0) * ((c & 1) * 0.5 if (c >> 1) & 3 == 0 else
                                              2.0 ** (((c >> 1) & 3) - 1) * (1 + (c & 1) * 0.5))
                  for c in range(16)])

_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def read_gguf(path):
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v[0]

    def string():
        nonlocal pos
        n = take("<Q")
        s = data[pos:pos + n].decode("utf-8", errors="replace")
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(_SCALAR[t])

    assert data[:4] == b"GGUF", "not a GGUF file"
    pos = 4
    version = take("<I")
    assert version in (2, 3), version
    n_tensors, n_kv = take("<Q"), take("<Q")
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        n_dims = take("<I")
        shape = [take("<Q") for _ in range(n_dims)]
        infos.append((name, shape, take("<I"), take("<Q")))
    align = meta.get("general.alignment", 32)
    base = (pos + align - 1) // align * align
    tensors = {}
    for name, shape, type_id, offset in infos:
        _, blk, blk_bytes = TYPES[type_id]
        n = int(np.prod(shape))
        size = n // blk * blk_bytes
        tensors[name] = (type_id, shape, data[base + offset: base + offset + size])
    return meta, tensors


def _f16(b):
    return b.copy().view(np.float16).astype(np.float64)


def _blocks(raw, n_bytes):
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, n_bytes)


def _nibbles(qs):  # [nb, 16] bytes -> [nb, 32]: low nibbles are elements 0..15, high 16..31
    return np.concatenate([qs & 0xF, qs >> 4], axis=1).astype(np.float64)


def _q5_high(qh_bytes):  # [nb, 4] little-endian u32 -> [nb, 32] bit j of the u32 for element j
    qh = qh_bytes.copy().view("<u4").astype(np.uint64)
    return ((qh >> np.arange(32, dtype=np.uint64)) & 1).astype(np.float64)


def _k_scale_min(s):  # [nb, 12] packed 6-bit scales/mins of Q4_K/Q5_K -> two [nb, 8]
    s = s.astype(np.int64)
    sc = np.empty((s.shape[0], 8), np.int64)
    mn = np.empty((s.shape[0], 8), np.int64)
    sc[:, :4], mn[:, :4] = s[:, 0:4] & 63, s[:, 4:8] & 63
    sc[:, 4:] = (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)
    mn[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc.astype(np.float64), mn.astype(np.float64)


def _dequant_blocks(type_id, b):
    """b: [n_blocks, block_bytes] -> [n_blocks, block_elems]"""
    e = np.arange(256)
    if type_id == 8:  # Q8_0: d, int8 q[32]
        return _f16(b[:, 0:2]) * b[:, 2:34].view(np.int8).astype(np.float64)
    if type_id == 2:  # Q4_0: d, q[16] nibbles; x = (q - 8) d
        return _f16(b[:, 0:2]) * (_nibbles(b[:, 2:18]) - 8)
    if type_id == 3:  # Q4_1: d, m, nibbles; x = q d + m
        return _f16(b[:, 0:2]) * _nibbles(b[:, 4:20]) + _f16(b[:, 2:4])
    if type_id == 6:  # Q5_0: d, qh u32, nibbles; x = (q | h << 4) - 16) d
        return _f16(b[:, 0:2]) * (_nibbles(b[:, 6:22]) + 16 * _q5_high(b[:, 2:6]) - 16)
    if type_id == 7:  # Q5_1: d, m, qh, nibbles; x = (q | h << 4) d + m
        return _f16(b[:, 0:2]) * (_nibbles(b[:, 8:24]) + 16 * _q5_high(b[:, 4:8])) + _f16(b[:, 2:4])
    if type_id == 10:  # Q2_K: scales[16] (lo: scale, hi: min), qs[64], d, dmin
        scales, qs = b[:, 0:16].astype(np.int64), b[:, 16:80].astype(np.int64)
        d, dmin = _f16(b[:, 80:82]), _f16(b[:, 82:84])
        half, l, j = e // 128, e % 32, (e % 128) // 32
        q = (qs[:, half * 32 + l] >> (2 * j)) & 3
        sc = scales[:, e // 16]
        return d * (sc & 0xF) * q - dmin * (sc >> 4)
    if type_id == 11:  # Q3_K: hmask[32], qs[64], scales[12] (16 x 6-bit, minus 32), d
        hmask, qs, s = b[:, 0:32].astype(np.int64), b[:, 32:96].astype(np.int64), b[:, 96:108].astype(np.int64)
        d = _f16(b[:, 108:110])
        i = np.arange(16)
        low = np.where(i < 8, s[:, i % 8] & 0xF, s[:, i % 8] >> 4)
        high = (s[:, 8 + i % 4] >> (2 * (i // 4))) & 3
        scale = (low | (high << 4)) - 32
        half, l, j = e // 128, e % 32, (e % 128) // 32
        q = (qs[:, half * 32 + l] >> (2 * j)) & 3
        hbit = (hmask[:, l] >> (half * 4 + j)) & 1
        return d * scale[:, e // 16] * (q - 4 * (1 - hbit))
    if type_id == 12:  # Q4_K: d, dmin, scales[12], qs[128]; 8 sub-blocks of 32
        d, dmin = _f16(b[:, 0:2]), _f16(b[:, 2:4])
        sc, mn = _k_scale_min(b[:, 4:16])
        qs = b[:, 16:144].astype(np.int64)
        sb, l = e // 32, e % 32
        q = np.where(sb % 2 == 0, qs[:, (e // 64) * 32 + l] & 0xF, qs[:, (e // 64) * 32 + l] >> 4)
        return d * sc[:, sb] * q - dmin * mn[:, sb]
    if type_id == 13:  # Q5_K: d, dmin, scales[12], qh[32], qs[128]
        d, dmin = _f16(b[:, 0:2]), _f16(b[:, 2:4])
        sc, mn = _k_scale_min(b[:, 4:16])
        qh, qs = b[:, 16:48].astype(np.int64), b[:, 48:176].astype(np.int64)
        sb, l = e // 32, e % 32
        q = np.where(sb % 2 == 0, qs[:, (e // 64) * 32 + l] & 0xF, qs[:, (e // 64) * 32 + l] >> 4)
        q = q + 16 * ((qh[:, l] >> sb) & 1)
        return d * sc[:, sb] * q - dmin * mn[:, sb]
    if type_id == 14:  # Q6_K: ql[128], qh[64], scales[16] int8, d
        ql, qh = b[:, 0:128].astype(np.int64), b[:, 128:192].astype(np.int64)
        scales = b[:, 192:208].view(np.int8).astype(np.float64)
        d = _f16(b[:, 208:210])
        half, k, l = e // 128, (e % 128) // 32, e % 32
        lo_byte = ql[:, half * 64 + l + 32 * (k % 2)]
        lo = np.where(k < 2, lo_byte & 0xF, lo_byte >> 4)
        hi = (qh[:, half * 32 + l] >> (2 * k)) & 3
        return d * scales[:, e // 16] * ((lo | (hi << 4)) - 32)
    if type_id == 39:  # MXFP4: E8M0 exponent byte e (scale 2^(e - 127)), E2M1 nibbles as Q4_0
        scale = np.ldexp(1.0, b[:, 0:1].astype(np.int64) - 127)
        return scale * _E2M1[_nibbles(b[:, 1:17]).astype(np.int64)]
    if type_id == 20:  # IQ4_NL: d, 16 bytes of level indices as Q4_0's nibbles
        return _f16(b[:, 0:2]) * _IQ4NL[_nibbles(b[:, 2:18]).astype(np.int64)]
    if type_id == 23:  # IQ4_XS: d, scales_h u16, scales_l[4], qs[128]; 8 sub-blocks of 32
        d = _f16(b[:, 0:2])
        sh = b[:, 2:4].copy().view("<u2").astype(np.int64)  # [nb, 1]
        sl = b[:, 4:8].astype(np.int64)
        s = np.arange(8)
        ls = ((sl[:, s // 2] >> (4 * (s % 2))) & 0xF) | (((sh >> (2 * s)) & 3) << 4)  # [nb, 8]
        idx = _nibbles(b[:, 8:136].reshape(-1, 16)).astype(np.int64).reshape(-1, 8, 32)
        return (d[:, :, None] * (ls - 32)[:, :, None] * _IQ4NL[idx]).reshape(-1, 256)
    raise ValueError(f"unsupported type {type_id}")


def dequantize(type_id, raw, shape):
    rows_shape = tuple(reversed(shape))
    if type_id == 0:
        return np.frombuffer(raw, dtype="<f4").astype(np.float64).reshape(rows_shape)
    if type_id == 1:
        return np.frombuffer(raw, dtype="<f2").astype(np.float64).reshape(rows_shape)
    if type_id == 30:
        u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return u.view(np.float32).astype(np.float64).reshape(rows_shape)
    _, _, blk_bytes = TYPES[type_id]
    return _dequant_blocks(type_id, _blocks(raw, blk_bytes)).reshape(rows_shape)
