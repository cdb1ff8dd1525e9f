"""What a file is, from its bytes: magic numbers, the members of a zip, the stream names of an OLE2
file. The name's extension is only a hint; when bytes and name disagree the bytes win."""

from __future__ import annotations

import io
import zipfile
from enum import StrEnum
from pathlib import PurePosixPath

from intake.media.errors import Corrupt, Encrypted, Unsupported

__all__ = ["Kind", "sniff", "open_zip"]


class Kind(StrEnum):
    """A readable container format (what ``extract`` dispatches on)."""

    DOCX = "docx"
    XLSX = "xlsx"
    XLS = "xls"
    PDF = "pdf"
    OFD = "ofd"
    IMAGE = "image"
    TXT = "txt"


OLE2 = bytes.fromhex("d0cf11e0a1b11ae1")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
_CLAIMED = {  # extensions that promise a binary format: such a name on unreadable bytes is a damaged file
    ".docx": "docx", ".xlsx": "xlsx", ".xls": "xls", ".pdf": "pdf", ".ofd": "ofd",
    ".png": "image", ".jpg": "image", ".jpeg": "image", ".bmp": "image", ".gif": "image", ".webp": "image",
}
_UNSUPPORTED_MAGIC = (  # formats people send that are not notices Jianfu can read
    (b"Rar!\x1a\x07", "zip"), (b"7z\xbc\xaf\x27\x1c", "zip"), (b"\x1f\x8b", "zip"),
    (b"#!AMR", "binary"), (b"ID3", "binary"), (b"{\\rtf", "binary"), (b"\x7fELF", "binary"), (b"MZ", "binary"),
)


def _ole_names(data: bytes, *names: str) -> bool:
    """Whether an OLE2 directory holds one of these stream names (stored UTF-16LE, NUL-terminated)."""
    return any(name.encode("utf-16-le") + b"\x00\x00" in data for name in names)


def _sniff_ole(data: bytes) -> Kind:
    if _ole_names(data, "EncryptedPackage", "EncryptionInfo"):
        raise Encrypted("office")  # an encrypted docx/xlsx is an OLE2 wrapper around the real zip
    if _ole_names(data, "Workbook", "Book"):
        return Kind.XLS
    if _ole_names(data, "WordDocument"):
        raise Unsupported("doc")
    if _ole_names(data, "PowerPoint Document"):
        raise Unsupported("ppt")
    raise Unsupported("ole")


def open_zip(data: bytes, kind: str) -> zipfile.ZipFile:
    """The zip container, or ``Corrupt`` (truncated, no central directory)."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise Corrupt(kind, "压缩结构不完整") from exc


def _sniff_zip(data: bytes) -> Kind:
    with open_zip(data, "zip") as archive:
        names = {name.lower() for name in archive.namelist()}
    if "word/document.xml" in names:
        return Kind.DOCX
    if "xl/workbook.xml" in names:
        return Kind.XLSX
    if "ofd.xml" in names:
        return Kind.OFD
    if any(name.startswith("ppt/") for name in names):
        raise Unsupported("ppt")
    raise Unsupported("zip")


def _looks_like_text(data: bytes) -> bool:
    head = data[:4096]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    controls = sum(1 for byte in head if byte < 0x20 and byte not in (0x09, 0x0A, 0x0C, 0x0D, 0x1B))
    return controls <= len(head) // 100


def sniff(data: bytes, filename: str) -> Kind:
    """The format of ``data``; raises ``Corrupt`` (empty, damaged), ``Encrypted`` or ``Unsupported``."""
    if not data:
        raise Corrupt("empty")
    if b"%PDF-" in data[:1024]:
        return Kind.PDF
    if data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return Kind.IMAGE
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(data)
    if data.startswith(OLE2):
        return _sniff_ole(data)
    for magic, kind in _UNSUPPORTED_MAGIC:
        if data.startswith(magic):
            raise Unsupported(kind)
    if _looks_like_text(data):
        return Kind.TXT
    claimed = _CLAIMED.get(PurePosixPath(filename.replace("\\", "/")).suffix.lower())
    if claimed:
        raise Corrupt(claimed, "文件内容与类型不符")
    raise Unsupported("binary")
