#!/usr/bin/env node
// ILP-over-HTTP side of the interop tests `interop/tests/http.rs`: the JavaScript reference
// plugin `ilp-plugin-http` (pinned in package.json, with `ilp-packet` for the ILP packets) as an
// HTTP server or client. One JSON object per line on stdout.
//
//   node http.js server PORT SECRET [STATIC_TOKEN]
//       An ilp-plugin-http plugin listening on PORT (0: any free port) with
//       `incoming: { port, jwtSecret: SECRET, staticToken: STATIC_TOKEN }`: it accepts an
//       `Authorization` header holding a JWT HS256 signed with SECRET (the utf-8 bytes of the
//       string are the HMAC key) or the static token, with or without "Bearer " (the plugin
//       strips exactly that prefix, case-sensitively). Any path; GET answers 200 "OK".
//       (The plugin also insists on an `outgoing` section; it is never used here.)
//       Prints {"ready":true,"port":P} once listening. Commands on stdin:
//         {"stats":true}   prints {"stats":{received,fulfilled,rejected}}
//       Exits on stdin EOF.
//
//   node http.js client URL MODE SECRET COUNT
//       An ilp-plugin-http plugin with `outgoing: { url: URL, name: "alice", ... }` sending
//       COUNT Prepares to URL, then printing one line and exiting:
//         {"result":{sent,matching,fulfilled,rejected,codes,rejects,unexpected,errors,ms}}
//       (a failed HTTP request shows in "errors" as the plugin's
//       "failed to fetch. code=<status>"). MODE chooses the plugin's outgoing auth option:
//         jwt            `jwtSecret: SECRET`   -> `Authorization: Bearer <JWT>` (1.6 default)
//         legacy-jwt     `secret: SECRET`      -> `Authorization: <JWT>` (no "Bearer ")
//         static         `staticToken: SECRET` -> `Authorization: Bearer <SECRET>`
//         legacy-static  `secretToken: SECRET` -> `Authorization: <SECRET>`
//       The JWTs are `jsonwebtoken.sign({}, SECRET, { expiresIn: 30 })`: claims iat and exp,
//       no sub. Requests carry `Content-Type: application/ilp+octet-stream` and
//       `ILP-Peer-Name: alice`. Prepare 0 is sent alone, the rest 8 at a time: sent all at
//       once, every JWT request but the first would carry "undefined" (a race in the
//       plugin's token cache, see the README).
//
// The server answers Prepares by the test convention of ilp-core's TestReceiver:
// fulfillment = SHA-256(data); Fulfill (data echoed) when SHA-256(fulfillment) equals the
// condition, else Reject F05 "condition is not SHA-256(SHA-256(data))" triggered by
// test.js.receiver. The client sends Prepare i (from 0) with a matching condition when i is
// even, a wrong one (SHA-256 of "wrong" + data) when odd.
'use strict'

const crypto = require('crypto')
const readline = require('readline')
const IlpPacket = require('ilp-packet')
const HttpPlugin = require('ilp-plugin-http')

const ADDRESS = 'test.js.receiver'
const DESTINATION = 'test.interop.receiver'
const REJECT_MESSAGE = 'condition is not SHA-256(SHA-256(data))'
const EXPIRY_MS = 30000
const DATA_BYTES = 32
const SEND_CONCURRENCY = 8
const SHOWN = 5

function sha256 (data) {
  return crypto.createHash('sha256').update(data).digest()
}

function print (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function exit (code) {
  // Let stdout drain before exiting.
  process.stdout.write('', () => process.exit(code))
}

// ------------------------------------------------------------------------------------------
// server PORT SECRET [STATIC_TOKEN]

async function server (port, secret, staticToken) {
  const incoming = { port, jwtSecret: secret }
  if (staticToken) incoming.staticToken = staticToken
  const plugin = new HttpPlugin({
    incoming,
    // Required by the constructor (it builds the outgoing auth); never used.
    outgoing: { url: 'http://127.0.0.1:9/unused', jwtSecret: secret, name: 'js-server' }
  })
  const stats = { received: 0, fulfilled: 0, rejected: 0 }
  plugin.registerDataHandler(async (buffer) => {
    const prepare = IlpPacket.deserializeIlpPrepare(buffer)
    stats.received++
    const fulfillment = sha256(prepare.data)
    if (sha256(fulfillment).equals(prepare.executionCondition)) {
      stats.fulfilled++
      return IlpPacket.serializeIlpFulfill({ fulfillment, data: prepare.data })
    }
    stats.rejected++
    return IlpPacket.serializeIlpReject({
      code: 'F05',
      triggeredBy: ADDRESS,
      message: REJECT_MESSAGE,
      data: Buffer.alloc(0)
    })
  })
  await plugin.connect()
  const httpServer = plugin._httpServer
  httpServer.on('error', (err) => {
    print({ error: `cannot listen on ${port}: ${err.message}` })
    exit(1)
  })
  const ready = () => print({ ready: true, port: httpServer.address().port })
  if (httpServer.listening) ready()
  else httpServer.once('listening', ready)

  const lines = readline.createInterface({ input: process.stdin })
  lines.on('line', (text) => {
    if (!text.trim()) return
    let command
    try {
      command = JSON.parse(text)
    } catch (err) {
      print({ error: `not JSON: ${text}` })
      return
    }
    if (command.stats) print({ stats })
    else print({ error: `unknown command: ${text}` })
  })
  lines.on('close', () => {
    plugin.disconnect().finally(() => exit(0))
  })
}

// ------------------------------------------------------------------------------------------
// client URL MODE SECRET COUNT

const MODES = {
  jwt: (secret) => ({ jwtSecret: secret }),
  'legacy-jwt': (secret) => ({ secret }),
  static: (secret) => ({ staticToken: secret }),
  'legacy-static': (secret) => ({ secretToken: secret })
}

function testData (i) {
  const data = Buffer.alloc(DATA_BYTES)
  for (let k = 0; k < DATA_BYTES; k++) data[k] = (i * 131 + k * 7) & 0xff
  data.writeUInt32BE(i, 0)
  return data
}

async function client (url, mode, secret, count) {
  const plugin = new HttpPlugin({
    // The plugin always listens; port 0 takes any free one. It accepts nothing here.
    incoming: { port: 0, staticToken: crypto.randomBytes(32).toString('hex') },
    outgoing: Object.assign({ url, name: 'alice' }, MODES[mode](secret))
  })
  await plugin.connect()
  const started = Date.now()
  const result = {
    sent: count,
    matching: 0,
    fulfilled: 0,
    rejected: 0,
    codes: {},
    rejects: [],
    unexpected: [],
    errors: [],
    ms: 0
  }
  const one = async (i) => {
    const data = testData(i)
    const matching = i % 2 === 0
    if (matching) result.matching++
    const executionCondition = matching
      ? sha256(sha256(data))
      : sha256(Buffer.concat([Buffer.from('wrong'), data]))
    const prepare = IlpPacket.serializeIlpPrepare({
      amount: String(i + 1),
      executionCondition,
      expiresAt: new Date(Date.now() + EXPIRY_MS),
      destination: DESTINATION,
      data
    })
    let reply
    try {
      reply = IlpPacket.deserializeIlpPacket(await plugin.sendData(prepare))
    } catch (err) {
      result.errors.push(`prepare ${i}: ${err.message}`)
      return
    }
    if (reply.type === IlpPacket.Type.TYPE_ILP_FULFILL) {
      const fulfill = reply.data
      if (!matching) {
        result.unexpected.push(`prepare ${i} (wrong condition) was fulfilled`)
      } else if (!sha256(fulfill.fulfillment).equals(executionCondition)) {
        result.unexpected.push(`prepare ${i}: fulfillment ${fulfill.fulfillment.toString('hex')} does not match`)
      } else if (!fulfill.data.equals(data)) {
        result.unexpected.push(`prepare ${i}: fulfill data ${fulfill.data.toString('hex')} is not the prepare's`)
      } else {
        result.fulfilled++
      }
    } else if (reply.type === IlpPacket.Type.TYPE_ILP_REJECT) {
      const reject = reply.data
      result.codes[reject.code] = (result.codes[reject.code] || 0) + 1
      if (result.rejects.length < SHOWN) {
        result.rejects.push({
          code: reject.code,
          triggeredBy: reject.triggeredBy,
          message: reject.message,
          data: reject.data.toString('hex')
        })
      }
      if (matching) {
        result.unexpected.push(`prepare ${i} (matching condition) was rejected: ${reject.code} ${reject.message}`)
      } else {
        result.rejected++
      }
    } else {
      result.unexpected.push(`prepare ${i}: reply of type ${reply.type}`)
    }
  }
  // Prepare 0 goes alone, the rest SEND_CONCURRENCY at a time: the plugin's JWT cache has a
  // race (getToken() marks the token fresh before jsonwebtoken has signed it, so the calls
  // made meanwhile send "Bearer undefined" and get a 401); one request first fills the cache.
  let next = 0
  if (count > 0) await one(next++)
  const worker = async () => {
    while (next < count) await one(next++)
  }
  await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, count) }, worker))
  result.unexpected = result.unexpected.slice(0, 20)
  result.errors = result.errors.slice(0, 20)
  result.ms = Date.now() - started
  print({ result })
  await plugin.disconnect()
  exit(0)
}

// ------------------------------------------------------------------------------------------

function usage () {
  process.stderr.write('usage: node http.js server PORT SECRET [STATIC_TOKEN] | node http.js client URL MODE SECRET COUNT\n' +
    `  MODE: ${Object.keys(MODES).join(' | ')}\n`)
  process.exit(2)
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'server' && (args.length === 2 || args.length === 3)) {
  server(Number(args[0]), args[1], args[2]).catch((err) => {
    print({ error: err.stack || String(err) })
    exit(1)
  })
} else if (mode === 'client' && args.length === 4 && MODES[args[1]]) {
  client(args[0], args[1], args[2], Number(args[3])).catch((err) => {
    print({ error: err.stack || String(err) })
    exit(1)
  })
} else {
  usage()
}
