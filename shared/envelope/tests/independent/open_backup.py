#!/usr/bin/env python3
"""Opens a Rampart backup (format version 1), written from docs/backup-format.md alone.

This is the proof that the document suffices for an independent implementation: it
shares no code with the Rust crate, only the document and the test vectors.

    open_backup.py --serial SERIAL INPUT OUTPUT  < password

The password is the first line of standard input (UTF-8, its line ending removed), so
it never shows in a process listing. OUTPUT is written only if every chunk
authenticates; on failure nothing is left at OUTPUT, a message goes to standard error
and the exit status is 1.

Needs `cryptography` (AES-GCM, HKDF) and `argon2-cffi` (Argon2id).
"""

import argparse
import math
import os
import struct
import sys
import tempfile

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = bytes.fromhex("89524d500d0a1a0a")
HEADER_LEN = 63
TAG_LEN = 16
# Header fields after the magic, big-endian: version u16, kdf id u8, argon2 version u8,
# m, t, p, chunk size, password generation (u32 each), plaintext length u64; then the
# 16-byte salt and the 7-byte nonce prefix.
FIELDS = struct.Struct(">HBBIIIIIQ")
CONTEXT = b"Rampart backup v1 payload key"


class BackupError(Exception):
    pass


def read_exact(stream, n):
    """Up to n bytes; fewer only at end of input."""
    data = b""
    while len(data) < n:
        more = stream.read(n - len(data))
        if not more:
            break
        data += more
    return data


def parse_header(header):
    if header[: len(MAGIC)] != MAGIC[: len(header)]:
        raise BackupError("not_a_backup")
    if len(header) < HEADER_LEN:
        raise BackupError("header_truncated")
    version, kdf_id, kdf_version, m, t, p, chunk_size, generation, plaintext_len = (
        FIELDS.unpack_from(header, 8)
    )
    if version != 1:
        raise BackupError("unsupported_version")
    if kdf_id != 1 or kdf_version != 0x13:
        raise BackupError("unsupported_kdf")
    if not (8192 <= m <= 1048576 and 1 <= t <= 10 and 1 <= p <= 16):
        raise BackupError("kdf_out_of_bounds")
    if not (1024 <= chunk_size <= 16 * 1024 * 1024):
        raise BackupError("chunk_size_out_of_bounds")
    chunks = max(1, math.ceil(plaintext_len / chunk_size))
    if chunks > 2**32:
        raise BackupError("too_large")
    return {
        "m": m,
        "t": t,
        "p": p,
        "chunk_size": chunk_size,
        "generation": generation,
        "plaintext_len": plaintext_len,
        "chunks": chunks,
        "salt": header[40:56],
        "nonce_prefix": header[56:63],
    }


def open_backup(password, serial, src, dst):
    """Decrypts src into dst; raises BackupError with the failure's code."""
    header = read_exact(src, HEADER_LEN)
    h = parse_header(header)
    argon2_output = hash_secret_raw(
        secret=password,
        salt=h["salt"],
        time_cost=h["t"],
        memory_cost=h["m"],
        parallelism=h["p"],
        hash_len=32,
        type=Type.ID,
        version=0x13,
    )
    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=CONTEXT + header + serial,
    ).derive(argon2_output)
    aead = AESGCM(key)
    for i in range(h["chunks"]):
        length = min(h["chunk_size"], h["plaintext_len"] - i * h["chunk_size"])
        sealed = read_exact(src, length + TAG_LEN)
        if len(sealed) < length + TAG_LEN:
            raise BackupError("truncated")
        last = i == h["chunks"] - 1
        nonce = h["nonce_prefix"] + struct.pack(">I", i) + (b"\x01" if last else b"\x00")
        try:
            plaintext = aead.decrypt(nonce, sealed, None)
        except InvalidTag:
            raise BackupError("wrong_password_or_serial" if i == 0 else "corrupted")
        if last and src.read(1):
            raise BackupError("trailing_data")
        dst.write(plaintext)
    return h


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serial", required=True, help="the license serial")
    parser.add_argument("input")
    parser.add_argument("output")
    args = parser.parse_args()
    line = sys.stdin.buffer.readline()
    password = line[:-1] if line.endswith(b"\n") else line
    if password.endswith(b"\r"):
        password = password[:-1]
    out_dir = os.path.dirname(os.path.abspath(args.output))
    fd, temp = tempfile.mkstemp(dir=out_dir, prefix=".open_backup-", suffix=".partial")
    try:
        with open(args.input, "rb") as src, os.fdopen(fd, "wb") as dst:
            h = open_backup(password, args.serial.encode("utf-8"), src, dst)
        os.replace(temp, args.output)
    except BackupError as e:
        os.unlink(temp)
        print(f"open_backup: {e}", file=sys.stderr)
        return 1
    except BaseException:
        os.unlink(temp)
        raise
    print(
        f"opened: {h['plaintext_len']} bytes, {h['chunks']} chunk(s), "
        f"password generation {h['generation']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
