"""The baseline: a bare aiohttp `/wechat` endpoint that does only the wire work.

It checks the signature (constant time), in safe mode checks ``msg_signature`` and decrypts the
``Encrypt`` element (AES-256-CBC, as WeChat does), parses the XML with defusedxml and answers a
fixed passive reply. No database, no classifier, no dialogue: what any WeChat callback costs on
aiohttp. ``python bench/bare_app.py --port P`` with the token and keys from the environment.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import struct

from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml.ElementTree import fromstring

REPLY = (
    "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{frm}]]></FromUserName>"
    "<CreateTime>0</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[收到]]></Content></xml>"
)


def _sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def make_app(token: str, aes_key: str, app_id: str) -> web.Application:
    key = base64.b64decode(aes_key + "=")

    def decrypt(encrypt: str) -> bytes:
        decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        plain = decryptor.update(base64.b64decode(encrypt)) + decryptor.finalize()
        plain = plain[: -plain[-1]]
        (length,) = struct.unpack(">I", plain[16:20])
        if plain[20 + length :].decode() != app_id:
            raise ValueError("app id")
        return plain[20 : 20 + length]

    async def handle(request: web.Request) -> web.Response:
        q = request.query
        body = await request.read()
        try:
            if q.get("encrypt_type") == "aes":
                encrypt = fromstring(body).findtext("Encrypt") or ""
                expected = _sign(token, q.get("timestamp", ""), q.get("nonce", ""), encrypt)
                if not hmac.compare_digest(q.get("msg_signature", ""), expected):
                    return web.Response(status=403)
                body = decrypt(encrypt)
            else:
                expected = _sign(token, q.get("timestamp", ""), q.get("nonce", ""))
                if not hmac.compare_digest(q.get("signature", ""), expected):
                    return web.Response(status=403)
            root = fromstring(body)
        except (ValueError, SyntaxError):
            return web.Response(status=400)
        reply = REPLY.format(to=root.findtext("FromUserName"), frm=root.findtext("ToUserName"))
        return web.Response(text=reply, content_type="application/xml")

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/wechat", handle)
    app.router.add_get("/healthz", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = make_app(os.environ["BENCH_TOKEN"], os.environ["BENCH_AES_KEY"], os.environ["BENCH_APP_ID"])
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
