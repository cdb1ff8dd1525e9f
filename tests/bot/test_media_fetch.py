"""Which links Jianfu fetches with ``[media] fetch_links``: only http(s) to an allowed host, as listed."""

from __future__ import annotations

import pytest

from bot.chat.fetch import is_allowed_link
from intake.media.html import read_article

HOSTS = ("mp.weixin.qq.com", "127.0.0.1:8081")


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://mp.weixin.qq.com/s/abc", True),
    ("http://mp.weixin.qq.com/s/abc", True),
    ("https://mp.weixin.qq.com:8443/s/abc", False),  # another port than the one listed
    ("https://user@mp.weixin.qq.com/s/abc", False),
    ("https://mp.weixin.qq.com.evil.example/s/abc", False),
    ("ftp://mp.weixin.qq.com/s/abc", False),
    ("file:///etc/passwd", False),
    ("http://127.0.0.1:8081/s/a", True),
    ("http://127.0.0.1/s/a", False),
    ("http://[::1/s/a", False),  # malformed
])
def test_only_listed_hosts_are_fetched(url: str, allowed: bool) -> None:
    assert is_allowed_link(url, HOSTS) is allowed


def test_article_text_skips_scripts_and_keeps_paragraphs() -> None:
    html = ("<html><head><style>p{}</style></head><body><div id='js_content'><p>第一段</p><script>x()</script>"
            "<p>第二段&nbsp;文字<br>换行</p></div><p>页脚</p></body></html>")
    assert read_article(html) == "第一段\n第二段 文字\n换行"


def test_article_without_content_block_falls_back_to_the_page() -> None:
    assert read_article("<body><h1>标题</h1><p>正文</p></body>") == "标题\n正文"
