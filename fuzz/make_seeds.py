#!/usr/bin/env python3
"""Writes the committed seed corpus, fuzz/seeds/<target>/, from scratch (stdlib only).

Small well-formed inputs for every reader, so the fuzzer starts from files that get past the
first checks: IDX images/labels (raw and gzip), CIFAR-10 archives (.tar.gz, plain ustar, GNU
long names, pax paths) and loose batches, and safetensors checkpoints of the [4, 3, 2] MLP.
Run from anywhere: `python3 fuzz/make_seeds.py`. Deterministic (gzip mtime 0).
"""
import gzip
import io
import json
import os
import shutil
import struct
import tarfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
RECORD = 3073


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx_images(count, rows, cols):
    pixels = bytes((i * 7) % 256 for i in range(count * rows * cols))
    return struct.pack(">IIII", 0x803, count, rows, cols) + pixels


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def cifar_batch(labels):
    out = bytearray()
    for k, label in enumerate(labels):
        out.append(label)
        out += bytes((k * 31 + i // 97) % 256 for i in range(RECORD - 1))
    return bytes(out)


def tar_bytes(members, fmt):
    # 1 KiB end-of-archive only, instead of padding to tarfile's 10 KiB records.
    tarfile.RECORDSIZE = 2 * tarfile.BLOCKSIZE
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    shutil.rmtree(ROOT, ignore_errors=True)

    images, labels = idx_images(2, 4, 4), idx_labels([0, 9, 3])
    for target in ["idx", "idx_gzip"]:
        write(target, "images", images)
        write(target, "labels", labels)
        write(target, "images-empty", idx_images(0, 28, 28))
    write("idx", "images.gz", gz(images))
    write("idx", "labels.gz", gz(labels))

    train1, train2, test = cifar_batch([1]), cifar_batch([2, 7]), cifar_batch([9])
    official = tar_bytes(
        [
            ("cifar-10-batches-bin/batches.meta.txt", b"airplane\nautomobile\n"),
            ("cifar-10-batches-bin/data_batch_2.bin", train2),
            ("cifar-10-batches-bin/data_batch_1.bin", train1),
            ("cifar-10-batches-bin/test_batch.bin", test),
        ],
        tarfile.USTAR_FORMAT,
    )
    long_dir = "d" * 120 + "/"
    gnu = tar_bytes([(long_dir + "data_batch_1.bin", train1), (long_dir + "test_batch.bin", test)], tarfile.GNU_FORMAT)
    pax = tar_bytes([(long_dir + "data_batch_1.bin", train1), ("test_batch.bin", test)], tarfile.PAX_FORMAT)
    write("cifar_archive", "official.tar.gz", gz(official))
    write("cifar_archive", "gnu-longname.tar.gz", gz(gnu))
    write("cifar_archive", "pax-path.tar.gz", gz(pax))
    small = tar_bytes([("data_batch_1.bin", train1), ("test_batch.bin", test)], tarfile.USTAR_FORMAT)
    write("cifar_archive", "small.tar", small)
    write("cifar_tar_gz", "small.tar", small)
    write("cifar_tar_gz", "gnu-longname.tar", tar_bytes([(long_dir + "test_batch.bin", test)], tarfile.GNU_FORMAT))
    write("cifar_tar_gz", "pax-path.tar", tar_bytes([(long_dir + "test_batch.bin", test)], tarfile.PAX_FORMAT))

    # cifar_batches: [per_class, seed, (name selector, length u16 BE, bytes)...], the last file
    # taking the rest. Selector 0 = data_batch_1.bin, 6 = test_batch.bin.
    framed = bytes([0, 1, 0]) + struct.pack(">H", len(train2)) + train2 + bytes([6, 0, 0]) + test
    write("cifar_batches", "train-test", framed)

    w0, b0 = f32([0.5 * i - 1 for i in range(12)]), f32([0.1, -0.2, 0.3])
    w2, b2 = f32([0.25 * i for i in range(6)]), f32([1.5, -2.5])
    mlp = [("0.weight", "F32", [3, 4], w0), ("0.bias", "F32", [3], b0), ("2.weight", "F32", [2, 3], w2), ("2.bias", "F32", [2], b2)]
    write("safetensors", "mlp-4-3-2.safetensors", safetensors(mlp))
    write("safetensors", "mlp-metadata.safetensors", safetensors(mlp, {"format": "pt"}))
    counter = ("0.num_batches_tracked", "I64", [], struct.pack("<q", 7))
    write("safetensors", "mlp-counter.safetensors", safetensors(mlp + [counter]))


if __name__ == "__main__":
    main()
