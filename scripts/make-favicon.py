#!/usr/bin/env python3
"""Writes public/favicon.ico: a 16x16 and a 32x32 icon, an indigo rounded
square with a white "R". Standard library only; run from the repo root."""
import struct
import sys

# 5x7 bitmap of the letter R.
GLYPH = [
    "1111.",
    "1...1",
    "1...1",
    "1111.",
    "1.1..",
    "1..1.",
    "1...1",
]
BG = (0x4F, 0x46, 0xE5)  # indigo-600
FG = (0xFF, 0xFF, 0xFF)


def image(size: int) -> bytes:
    scale = size // 8
    gw, gh = 5 * scale, 7 * scale
    ox, oy = (size - gw) // 2, (size - gh) // 2
    radius = size // 5
    rows = []
    for y in range(size):
        row = bytearray()
        for x in range(size):
            # Rounded corners: transparent outside the corner circles.
            cx = min(max(x, radius), size - 1 - radius)
            cy = min(max(y, radius), size - 1 - radius)
            inside = (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2
            gx, gy = (x - ox) // scale, (y - oy) // scale
            on = 0 <= x - ox < gw and 0 <= y - oy < gh and GLYPH[gy][gx] == "1"
            r, g, b = FG if on else BG
            row += bytes((b, g, r, 255 if inside else 0))  # BGRA
        rows.append(bytes(row))
    pixels = b"".join(reversed(rows))  # bottom-up
    mask_row = ((size + 31) // 32) * 4
    mask = b"\x00" * (mask_row * size)  # alpha channel decides transparency
    header = struct.pack("<IiiHHIIiiII", 40, size, size * 2, 1, 32, 0, len(pixels) + len(mask), 0, 0, 0, 0)
    return header + pixels + mask


def ico(sizes) -> bytes:
    images = [image(s) for s in sizes]
    out = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    for s, data in zip(sizes, images):
        out += struct.pack("<BBBBHHII", s % 256, s % 256, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return out + b"".join(images)


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "public/favicon.ico"
    with open(path, "wb") as f:
        f.write(ico([16, 32]))
