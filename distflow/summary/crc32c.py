"""CRC32C (Castagnoli), the checksum of TFRecord framing, in pure Python.

TFRecord files (and so TensorBoard event files) protect each record's length and data with CRC32C,
not the zlib CRC32 of `binascii.crc32`: same algorithm, different polynomial. A table of 256 entries
lets us fold one byte per step, fast enough for the few kilobytes a summary or graph record holds.
"""
_POLY = 0x82F63B78  # Castagnoli's polynomial 0x1EDC6F41, bit-reversed (we shift right)
_MASK_DELTA = 0xA282EAD8


def _make_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc32c(data, crc=0):
    """The CRC32C of `data` (bytes-like); pass a previous result as `crc` to continue it."""
    table = _TABLE
    crc ^= 0xFFFFFFFF
    for b in memoryview(data).cast("B"):
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    """TF's masked CRC: rotated and offset, because a CRC of data that itself holds CRCs is weak."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF
