#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/ (run from anywhere; idempotent).

Seeds are small valid inputs of each format, so the fuzzer starts from the interesting parts: envelopes
encrypted with the fuzz target's own key (so decryption succeeds), official-sample events, the example
org and roster files, a config like the e2e tests', the shipped feeding survey and typical replies.
Needs python3-cryptography for the encrypted envelopes (Debian: python3-cryptography)."""
import base64, hashlib, json, os, pathlib, struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / "corpus"

def put(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    (d / name).write_bytes(data)

# Same as tests/fuzz/callback_fuzz.cpp.
AES_KEY = base64.b64decode("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG=")
CORP = b"wwfuzzcorp0001"
TOKEN = "FuzzToken"

def encrypt(msg: bytes, receive_id=CORP) -> str:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    plain = b"0123456789abcdef" + struct.pack(">I", len(msg)) + msg + receive_id
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(AES_KEY), modes.CBC(AES_KEY[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()

def signature(ts, nonce, enc):
    return hashlib.sha1("".join(sorted([TOKEN, ts, nonce, enc])).encode()).hexdigest()

TEXT_XML = ("<xml><ToUserName><![CDATA[wwfuzzcorp0001]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>"
            "<CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[宝宝6个月了]]></Content>"
            "<MsgId>1234567890123456</MsgId><AgentID>1000002</AgentID></xml>")
CHAT_XML = ("<xml><ToUserName><![CDATA[ww]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1403610513</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA]]></ChatId>"
            "<ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[add_member]]></UpdateDetail><JoinScene>1</JoinScene>"
            "<MemChangeCnt>2</MemChangeCnt><MemChangeList><Item>Jack</Item><Item>Rose</Item></MemChangeList>"
            "<LastMemVer>9c3f97c2ada667dfb5f6d03308d963e1</LastMemVer><CurMemVer>71217227bbd112ecfe3a49c482195cb4</CurMemVer></xml>")
KF_XML = ("<xml><ToUserName><![CDATA[ww12345678910]]></ToUserName><CreateTime>1348831860</CreateTime><MsgType><![CDATA[event]]></MsgType>"
          "<Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token>"
          "<OpenKfId><![CDATA[wkxxxxxxx]]></OpenKfId></xml>")
BOT_JSON = json.dumps({"msgid": "CAIQ16HMjQYY", "aibotid": "AIBOTID", "chatid": "CHATID", "chattype": "group",
                       "from": {"userid": "USERID"}, "response_url": "https://example.invalid/r", "msgtype": "text",
                       "text": {"content": "@机器人 宝宝不吃辅食怎么办"}}, ensure_ascii=False)
BOT_EVENT = json.dumps({"msgid": "e1", "create_time": 1700000000, "aibotid": "A", "from": {"userid": "U"},
                        "msgtype": "event", "event": {"eventtype": "enter_chat"}})

# callback_envelope: first byte = mode (0 XML envelope, 1 JSON envelope, 2 raw ciphertext, 3 signed fields, 4 round trip).
for i, msg in enumerate([TEXT_XML, CHAT_XML, KF_XML]):
    enc = encrypt(msg.encode())
    put("callback_envelope", f"xml_envelope_{i}", b"\x00" + (
        f"<xml><ToUserName><![CDATA[wwfuzzcorp0001]]></ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt>"
        "<AgentID><![CDATA[1000002]]></AgentID></xml>").encode())
    put("callback_envelope", f"ciphertext_{i}", b"\x02" + enc.encode())
    ts, nonce = "1700000000", "263014780"
    put("callback_envelope", f"signed_{i}",
        b"\x03" + "\0".join([signature(ts, nonce, enc), ts, nonce, enc]).encode())
enc = encrypt(BOT_JSON.encode(), b"")
put("callback_envelope", "json_envelope", b"\x01" + json.dumps({"encrypt": enc}).encode())
put("callback_envelope", "foreign_receiveid", b"\x02" + encrypt(b"<xml/>", b"wwOtherCorp").encode())
put("callback_envelope", "roundtrip", b"\x04" + TEXT_XML.encode())
put("callback_envelope", "doctype", b"\x00<!DOCTYPE x [<!ENTITY a \"aaaa\">]><xml><Encrypt>&a;</Encrypt></xml>")

# event_payload
for name, body in [("text", TEXT_XML), ("change_external_chat", CHAT_XML), ("kf_doorbell", KF_XML),
                   ("bot_text", BOT_JSON), ("bot_event", BOT_EVENT),
                   ("image", TEXT_XML.replace("text", "image").replace("<Content>", "<PicUrl>").replace("</Content>", "</PicUrl>")),
                   ("entity", "<!DOCTYPE xml [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><MsgType>&e;</MsgType></xml>")]:
    put("event_payload", name, body)

# roster_csv: first byte even = org file, odd = roster file.
org = (ROOT / "templates/roster/org.example.csv").read_bytes()
roster = (ROOT / "templates/roster/roster.example.csv").read_bytes()
put("roster_csv", "org_example", b"\x00" + org)
put("roster_csv", "roster_example", b"\x01" + roster)
put("roster_csv", "roster_fixture_units", b"\x01" + (
    "儿童编号,出生日期,性别,区划代码,照护人姓名,照护人手机,外部联系人ID,项目标签\n"
    "C1,2025-03-08,女,440103001000,\"示例, 家长\",13800000001,wmX,特困；低保\n"
    "C2,2024/11/2,男,440103001201,,138 0000 0002,,\n"
    "\"C3\",2025-01-01,,440103002000,\"说\"\"你好\"\"\",+86 139-0000-0003,,低保\r\n").encode())
put("roster_csv", "org_gb18030", b"\x00" + "区划代码,名称\n440103003000,示范三镇\n".encode("gb18030"))
put("roster_csv", "bom", b"\x01\xef\xbb\xbf" + roster)

# config
put("config", "e2e_like", """[server]
listen = "127.0.0.1:0"

[store]
path = "var/yuer.db"

[wecom]
api_base = "http://127.0.0.1:9"
corp_id = "wwfuzzcorp0001"

[wecom.app]
token_file = "secrets/token"
aes_key_file = "secrets/aes_key"

[[wecom.bot]]
name = "county"
token_env = "YUER_FUZZ_SECRET"
aes_key_file = "secrets/aes_key"

[time]
zone = "Asia/Shanghai"

[admin]
token_credential = "admin"

[roster]
phone_key_file = "secrets/phone_key"

[log]
level = "info"
""")
put("config", "loose_secret", "[server]\nlisten = \"127.0.0.1:0\"\n[admin]\ntoken_file = \"secrets/loose\"\n")
put("config", "example", (ROOT / "config/yuerd.example.toml").read_bytes())

# survey_definition
feeding = (ROOT / "templates/surveys/feeding.toml").read_bytes()
put("survey_definition", "feeding", feeding)
put("survey_definition", "expr", "age_months >= 6 and (breastfed == 'yes' or foods has 'egg') and not value < 3")
put("survey_definition", "small", """id = "tiny"
version = 1
title = "小调查"
intro = "你好"
outro = "谢谢"

[[question]]
id = "q1"
type = "single"
label = "问题一"
prompt = "吃过吗？"
options = [{code = "yes", text = "吃过", synonyms = ["有"]}, {code = "no", text = "没吃过"}]
""")

# survey_answer: byte 0 = mode (0 answer to question byte 1, 1 command / JSON, 2 conversation), byte 1 = question / user.
for i, reply in enumerate(["1", "２", "第三个", "吃过", "1、3", "三个月", "2026年3月5日", "3月5日", "不知道", "跳过", "10次"]):
    put("survey_answer", f"answer_{i}", bytes([0, i]) + reply.encode())
for i, cmd in enumerate(["上一题", "重新开始", "退出", "确认", "改3", "第3题改一下", '{"code":"yes"}', '{"codes":["a","b"]}',
                         '{"survey_id":"feeding","survey_version":1,"phase":"asking","children":[],"child":0,"answers":{}}']):
    put("survey_answer", f"command_{i}", bytes([1, 0]) + cmd.encode())
put("survey_answer", "conversation_known", bytes([2, 0]) + "你好\n1\n1\n2\n1\n3个月\n上一题\n1\n确认\n".encode())
put("survey_answer", "conversation_unknown", bytes([2, 1]) + "调查\n2026-05-10\n1234\n1\n1\n退出\n继续\n改1\n2\n确认\n".encode())

# kf_sync_msg: a kf/sync_msg answer page (JSON, reference §9.3, DOC 94670 samples) or, when the input
# is not JSON, a kf_msg_or_event doorbell (XML, §9.2).
KF_TEXT = {"msgid": "from_msgid_4622416642169452483", "open_kfid": "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q",
           "external_userid": "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw", "send_time": 1615478585, "origin": 3,
           "msgtype": "text", "text": {"content": "宝宝8个月，辅食一天两顿可以吗", "menu_id": "101"}}
KF_EVENT = {"msgid": "ev_1", "send_time": 1615478600, "origin": 4, "msgtype": "event",
            "event": {"event_type": "enter_session", "open_kfid": "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q",
                      "external_userid": "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw", "scene": "123", "scene_param": "abc",
                      "welcome_code": "aaaaaa"}}
KF_FAIL = {"msgid": "ev_2", "send_time": 1615478700, "origin": 4, "msgtype": "event",
           "event": {"event_type": "msg_send_fail", "open_kfid": "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q",
                     "external_userid": "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw", "fail_msgid": "FAILMSGID", "fail_type": 6}}
KF_SERVICER = {"msgid": "s_1", "open_kfid": "wkAJ2GCAAASSm4_FhToWMFea0xAFfd3Q",
               "external_userid": "wmAJ2GCAAAme1XQRC-NI-q0_ZM9ukoAw", "send_time": 1615478800, "origin": 5,
               "servicer_userid": "zhangsan", "msgtype": "image", "image": {"media_id": "2iSLeVyqzk4eX0IB5kTi9Ljfa2rt9dwfq5WKRQ4Nvvgw"}}
pages = {
    "page_text": {"errcode": 0, "errmsg": "ok", "next_cursor": "4gw7MepFLfgF2VC5npN", "has_more": 1, "msg_list": [KF_TEXT]},
    "page_mixed": {"errcode": 0, "errmsg": "ok", "next_cursor": "c2", "has_more": 0,
                   "msg_list": [KF_TEXT, KF_EVENT, KF_FAIL, KF_SERVICER]},
    "page_empty_has_more": {"errcode": 0, "errmsg": "ok", "next_cursor": "c3", "has_more": 1, "msg_list": []},
    "page_odd_items": {"errcode": 0, "next_cursor": 5, "has_more": "1",
                       "msg_list": [1, None, {"msgid": ""}, {"msgid": 7}, {"msgid": "x", "send_time": -1, "origin": 3,
                                                                            "external_userid": "wm1"},
                                    {"msgid": "y", "send_time": 18446744073709551615, "origin": 3, "external_userid": "wm2"}]},
}
for name, page in pages.items():
    put("kf_sync_msg", name, json.dumps(page, ensure_ascii=False))
put("kf_sync_msg", "doorbell", KF_XML)
put("kf_sync_msg", "doorbell_no_token", KF_XML.replace("<Token><![CDATA[ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR]]></Token>", ""))

# chat_change: change_external_chat events (reference §8.3, DOC 92130): create, update (add/del member,
# change name/owner/notice), dismiss.
CHAT_SAMPLE = ("<xml><ToUserName><![CDATA[wwea4ccebadeefd11a]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
               "<CreateTime>1700642907</CreateTime><MsgType><![CDATA[event]]></MsgType>"
               "<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[wree9uDgAAfxkLu5-lEbsmQBjsb7V8Cg]]></ChatId>"
               "<ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[change_name]]></UpdateDetail>"
               "<JoinScene>0</JoinScene><MemChangeCnt>2</MemChangeCnt>"
               "<LastMemVer><![CDATA[6ebe7c3f89cb839ec2e1720f04eae2e0]]></LastMemVer>"
               "<CurMemVer><![CDATA[15722766561cf8bce92480a3d1457654]]></CurMemVer></xml>")
put("chat_change", "update_change_name", CHAT_SAMPLE)
put("chat_change", "update_add_member", CHAT_XML)
put("chat_change", "create", "<xml><ToUserName><![CDATA[ww]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
    "<CreateTime>1403610513</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_chat]]></Event>"
    "<ChatId><![CDATA[wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA]]></ChatId><ChangeType><![CDATA[create]]></ChangeType></xml>")
put("chat_change", "dismiss", "<xml><MsgType>event</MsgType><Event>change_external_chat</Event><ChatId>wr1</ChatId>"
    "<ChangeType>dismiss</ChangeType></xml>")
put("chat_change", "del_member_quit_scene", "<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_chat]]></Event>"
    "<ChatId><![CDATA[wr2]]></ChatId><ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[del_member]]></UpdateDetail>"
    "<QuitScene>1</QuitScene><MemChangeCnt>1</MemChangeCnt><MemChangeList><Item><![CDATA[wmEXT]]></Item></MemChangeList>"
    "<LastMemVer><![CDATA[a]]></LastMemVer><CurMemVer><![CDATA[b]]></CurMemVer></xml>")
