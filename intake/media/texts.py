"""Chinese texts of the media reader: what a sender is told when a file or picture cannot be read.

Each message names the reason and says what to do. The chat edge and the upload page show
``MediaError.user_message``; nothing else builds these sentences.
"""

from __future__ import annotations

__all__ = [
    "SUPPORTED_ZH",
    "TOO_LARGE",
    "LIMIT_ZH",
    "ENCRYPTED",
    "CORRUPT",
    "EMPTY_FILE",
    "UNSUPPORTED",
    "UNSUPPORTED_KIND_ZH",
    "OCR_OFF",
    "NO_TEXT_IMAGE",
    "NO_TEXT_DOCUMENT",
]

SUPPORTED_ZH = "Word(.docx)、PDF、Excel(.xlsx/.xls)、OFD、文本文件(.txt)或图片(png/jpg)"

TOO_LARGE = "文件太大:{what}为{actual},超过上限{limit}。请拆分或压缩后再发送,或直接发送通知文字。"
LIMIT_ZH = {
    "bytes": "文件大小",
    "pages": "页数",
    "ocr_pages": "需要识别的扫描页数",
    "cells": "表格单元格数",
    "chars": "文字字数",
    "pixels": "图片像素",
    "unpacked": "解压后大小",
}

ENCRYPTED = "文件设置了密码,无法读取。请取消密码后重新发送,或直接发送通知文字。"
CORRUPT = "文件已损坏或不完整,无法打开({detail})。请重新导出或重新发送,或直接发送通知文字。"
EMPTY_FILE = "收到的文件是空的。请重新发送,或直接发送通知文字。"
UNSUPPORTED = "暂不支持{kind}。请发送" + SUPPORTED_ZH + ",或直接发送通知文字。"
UNSUPPORTED_KIND_ZH = {
    "doc": "旧版Word(.doc)文件,请另存为.docx或PDF后再发送",
    "ppt": "演示文稿(PPT)",
    "zip": "压缩包",
    "ole": "这种Office文件",
    "binary": "这种文件类型",
    "text": "这种文字编码",
}
OCR_OFF = "图片和扫描件的文字识别暂未开启。请直接发送通知文字,或发送可复制文字的文件。"
NO_TEXT_IMAGE = "图片中没有识别到中文文字,请发送文字或更清晰的图片"
NO_TEXT_DOCUMENT = "文件中没有读到文字。请发送通知文字,或可复制文字的文件、清晰的图片。"
