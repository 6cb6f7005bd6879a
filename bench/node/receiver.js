// Baseline for bench/: the WeCom app callback receiver a typical Node.js developer would write
// with Tencent's @wecom/crypto. One process, node:http, no framework. For each POST it verifies
// the signature, decrypts, checks the receiveid, appends one JSON line to a log file and
// answers an empty 200 only after fdatasync of that append has finished: one fdatasync per
// request, no batching of its own (concurrent requests' fdatasyncs run side by side on libuv's
// thread pool, and the file system may merge them).
//
// Configuration (environment):
//   RECEIVER_PORT        port on 127.0.0.1 (0 = any free port; default 0)
//   RECEIVER_LOG         file the records are appended to (required)
//   WECOM_TOKEN_FILE     file holding the callback Token (one trailing newline ignored)
//   WECOM_AES_KEY_FILE   file holding the 43-char EncodingAESKey
//   WECOM_CORP_ID        the corp id expected at the tail of every plaintext
// Prints "receiver listening on http://127.0.0.1:PORT" once it accepts connections.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const { getSignature, decrypt } = require('@wecom/crypto');

function secret(name) {
  const file = process.env[name];
  if (!file) throw new Error(`${name} is not set`);
  return fs.readFileSync(file, 'utf8').replace(/\n$/, '');
}

const token = secret('WECOM_TOKEN_FILE');
const aesKey = secret('WECOM_AES_KEY_FILE');
const corpId = process.env.WECOM_CORP_ID;
const logPath = process.env.RECEIVER_LOG;
const port = Number(process.env.RECEIVER_PORT || 0);
if (!corpId || !logPath) throw new Error('WECOM_CORP_ID and RECEIVER_LOG are required');

const log = fs.openSync(logPath, 'a');

function appendDurably(line, done) {
  fs.write(log, line, (err) => {
    if (err) return done(err);
    return fs.fdatasync(log, done);
  });
}

function reply(res, status, text) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text || '');
}

// Returns [status, bodyText, plaintext]; plaintext only when the callback is authentic.
function open(query, encrypted) {
  if (!encrypted) return [400, 'no Encrypt field'];
  const timestamp = query.get('timestamp');
  const nonce = query.get('nonce');
  if (getSignature(token, timestamp, nonce, encrypted) !== query.get('msg_signature')) {
    return [403, 'bad signature'];
  }
  let opened;
  try {
    opened = decrypt(aesKey, encrypted);
  } catch (e) {
    return [400, 'cannot decrypt'];
  }
  if (opened.id !== corpId) return [403, 'wrong receiveid'];
  return [200, '', opened.message];
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== '/wecom/callback/app') return reply(res, 404, 'not found');

  // URL verification when the admin saves the callback settings: echo the decrypted echostr.
  if (req.method === 'GET') {
    const [status, text, plain] = open(url.searchParams, url.searchParams.get('echostr'));
    return reply(res, status, status === 200 ? plain : text);
  }
  if (req.method !== 'POST') return reply(res, 405, 'method not allowed');

  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const m = /<Encrypt><!\[CDATA\[([^\]]*)\]\]><\/Encrypt>/.exec(body);
    const [status, text, plain] = open(url.searchParams, m && m[1]);
    if (status !== 200) return reply(res, status, text);

    const msgId = /<MsgId>(\d+)<\/MsgId>/.exec(plain);
    const record = JSON.stringify({
      msgid: msgId ? msgId[1] : null,
      received_at: Date.now(),
      payload: plain,
    });
    return appendDurably(`${record}\n`, (err) => {
      if (err) {
        console.error(`append failed: ${err.message}`);
        return reply(res, 500, 'store failed');
      }
      return reply(res, 200);
    });
  });
  return undefined;
});

server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => {
  console.log(`receiver listening on http://127.0.0.1:${server.address().port}`);
});

function stop() {
  server.close(() => {
    fs.closeSync(log);
    process.exit(0);
  });
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
