#!/usr/bin/env node
// BTP side of the interop tests `interop/tests/btp.rs`: the JavaScript reference plugin
// `ilp-plugin-btp` (pinned in package.json, with `ilp-packet` for the ILP packets) as a BTP
// server or client, driven through stdin and stdout, one JSON object per line.
//
//   node btp.js server PORT TOKEN
//       An ilp-plugin-btp listener (`listener: { port: PORT, secret: TOKEN }`, one account, any
//       path; `responseTimeout` 5 s instead of 35 s, so that a Prepare it sends and never gets
//       an answer to shows within a test's time). Prints {"ready":true} once listening, then,
//       as they happen,
//       {"event":"connect"} / {"event":"disconnect"} (a client authenticated / went away) and
//       {"held":N} (see below). Commands on stdin:
//         {"send":{"count":N,"dataBytes":B}}  sends N Prepares to the connected client (waits
//                                             up to 10 s for one to connect, unless "force":
//                                             true is given), prints a result line
//                                             {"result": ...} (see sendPrepares) with the
//                                             plugin's error log lines meanwhile in "logged"
//         {"stats":true}                      prints {"stats":{...}}: the Prepares answered
//       Exits on stdin EOF.
//
//   node btp.js client URL COUNT [DATA_BYTES [INCOMING]]
//       An ilp-plugin-btp client (`server: URL`, e.g. btp+ws://user:token@127.0.0.1:PORT).
//       Connects (10 s at most), sends COUNT Prepares of DATA_BYTES (default 32) bytes of data,
//       stays connected until it has answered INCOMING (default 0) Prepares from the server
//       (10 s at most; "stats" counts them), prints one line and exits:
//         {"connected":true,"result":{...},"stats":{...}}
//         {"connected":false,"error":"<why connect() failed>","logged":["<plugin error log>",..]}
//       A refused authentication shows in "logged": the plugin logs the BTP Error it got as
//       "error authenticating btp connection {"code":"F00","name":"NotAcceptedError",...}"
//       and connect() then fails with "connection aborted".
//
// Both modes answer incoming Prepares by the test convention of ilp-core's TestReceiver:
// fulfillment = SHA-256(data); Fulfill (data echoed) when SHA-256(fulfillment) equals the
// condition, else Reject F05 "condition is not SHA-256(SHA-256(data))" triggered by
// test.js.receiver. A Prepare whose data starts with "hold:" is never answered (the test uses
// it to have Prepares in flight); each one prints {"held":<how many so far>}.
//
// Both modes send Prepares by the same convention: Prepare i (from 0) has a matching condition
// when i is even, a wrong one (SHA-256 of "wrong" + data) when odd.
'use strict'

const crypto = require('crypto')
const http = require('http')
const readline = require('readline')
const IlpPacket = require('ilp-packet')
const BtpPlugin = require('ilp-plugin-btp')

const ADDRESS = 'test.js.receiver'
const DESTINATION = 'test.interop.receiver'
const REJECT_MESSAGE = 'condition is not SHA-256(SHA-256(data))'
const CONNECT_TIMEOUT_MS = 10000
const EXPIRY_MS = 30000
const SEND_CONCURRENCY = 16
const SHOWN = 5
const VERBOSE = !!process.env.BTP_JS_DEBUG

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

// A logger for the plugin (its `modules.log`): keeps the error lines, so that the client can
// report why connecting failed; writes errors (and everything with BTP_JS_DEBUG set) to stderr.
function makeLog (name) {
  const logged = []
  const line = (level, args) => args.map(a => (a instanceof Error ? a.stack : String(a))).join(' ')
  const log = {
    logged,
    error: (...args) => {
      const text = line('error', args)
      logged.push(text)
      process.stderr.write(`${name} error: ${text}\n`)
    },
    warn: (...args) => process.stderr.write(`${name} warn: ${line('warn', args)}\n`),
    info: (...args) => { if (VERBOSE) process.stderr.write(`${name} info: ${line('info', args)}\n`) },
    debug: (...args) => { if (VERBOSE) process.stderr.write(`${name} debug: ${line('debug', args)}\n`) },
    trace: (...args) => { if (VERBOSE) process.stderr.write(`${name} trace: ${line('trace', args)}\n`) }
  }
  log.debug.namespace = name
  return log
}

// ------------------------------------------------------------------------------------------
// Answering Prepares

function makeAnswerer () {
  const stats = { received: 0, fulfilled: 0, rejected: 0, held: 0 }
  const handler = async (buffer) => {
    const prepare = IlpPacket.deserializeIlpPrepare(buffer)
    stats.received++
    if (prepare.data.subarray(0, 5).toString('latin1') === 'hold:') {
      stats.held++
      print({ held: stats.held })
      return new Promise(() => {})
    }
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
  }
  return { stats, handler }
}

// ------------------------------------------------------------------------------------------
// Sending Prepares

function testData (i, dataBytes) {
  const data = Buffer.alloc(dataBytes)
  for (let k = 0; k < dataBytes; k++) data[k] = (i * 131 + k * 7) & 0xff
  if (dataBytes >= 4) data.writeUInt32BE(i, 0)
  return data
}

// Sends `count` Prepares through `plugin` (at most SEND_CONCURRENCY at a time) and checks every
// answer. The result:
//   sent, matching (how many had a matching condition), fulfilled, rejected (valid answers of
//   the expected kind), codes (reject code -> count, every reject), rejects (the first few
//   Rejects in full), unexpected (answers of the wrong kind, wrong fulfillments, data not
//   echoed), errors (sendData threw: BTP Error, timeout, undecodable reply), ms.
async function sendPrepares (plugin, count, dataBytes) {
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
    const data = testData(i, dataBytes)
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
  let next = 0
  const worker = async () => {
    while (next < count) await one(next++)
  }
  await Promise.all(Array.from({ length: Math.min(SEND_CONCURRENCY, count) }, worker))
  result.unexpected = result.unexpected.slice(0, 20)
  result.errors = result.errors.slice(0, 20)
  result.ms = Date.now() - started
  return result
}

// ------------------------------------------------------------------------------------------
// server PORT TOKEN

async function server (port, token) {
  const log = makeLog('btp-server')
  const httpServer = http.createServer()
  const plugin = new BtpPlugin({
    listener: { port, secret: token, wsOpts: { server: httpServer } },
    responseTimeout: 5000
  }, { log })
  const answerer = makeAnswerer()
  plugin.registerDataHandler(answerer.handler)
  let connected = false
  plugin.on('connect', () => { connected = true; print({ event: 'connect' }) })
  plugin.on('disconnect', () => { connected = false; print({ event: 'disconnect' }) })
  httpServer.on('listening', () => print({ ready: true, port: httpServer.address().port }))
  httpServer.on('error', (err) => {
    print({ error: `cannot listen on ${port}: ${err.message}` })
    exit(1)
  })
  // connect() resolves when the first client has authenticated. A client refused before the
  // first good one makes it fail with "connection aborted"; the listener keeps listening and
  // the next good client connects (and emits 'connect').
  plugin.connect().catch((err) => print({ event: 'connect-failed', message: err.message }))

  const whenConnected = () => new Promise((resolve, reject) => {
    if (connected) return resolve()
    const timer = setTimeout(() => reject(new Error('no client connected within 10 s')), CONNECT_TIMEOUT_MS)
    plugin.once('connect', () => { clearTimeout(timer); resolve() })
  })

  // One command at a time, in order.
  let queue = Promise.resolve()
  const lines = readline.createInterface({ input: process.stdin })
  lines.on('line', (text) => {
    if (!text.trim()) return
    queue = queue.then(async () => {
      let command
      try {
        command = JSON.parse(text)
      } catch (err) {
        print({ error: `not JSON: ${text}` })
        return
      }
      if (command.send) {
        try {
          if (!command.send.force) await whenConnected()
          const before = log.logged.length
          const result = await sendPrepares(plugin, command.send.count, command.send.dataBytes || 0)
          result.logged = log.logged.slice(before, before + 20)
          print({ result })
        } catch (err) {
          print({ error: err.message })
        }
      } else if (command.stats) {
        print({ stats: answerer.stats })
      } else {
        print({ error: `unknown command: ${text}` })
      }
    })
  })
  lines.on('close', () => {
    queue.then(() => plugin.disconnect()).finally(() => exit(0))
  })
}

// ------------------------------------------------------------------------------------------
// client URL COUNT [DATA_BYTES [INCOMING]]

async function client (url, count, dataBytes, incoming) {
  const log = makeLog('btp-client')
  const plugin = new BtpPlugin({ server: url }, { log })
  const answerer = makeAnswerer()
  plugin.registerDataHandler(answerer.handler)
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`not connected after ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS)
  })
  try {
    await Promise.race([plugin.connect(), timeout])
  } catch (err) {
    clearTimeout(timer)
    print({ connected: false, error: err.message, logged: log.logged })
    return exit(0)
  }
  clearTimeout(timer)
  const result = await sendPrepares(plugin, count, dataBytes)
  const deadline = Date.now() + CONNECT_TIMEOUT_MS
  while (answerer.stats.received < incoming && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  // Let the plugin write the last answer before disconnecting.
  if (incoming > 0) await new Promise((resolve) => setTimeout(resolve, 100))
  print({ connected: true, result, stats: answerer.stats, logged: log.logged })
  await plugin.disconnect()
  exit(0)
}

// ------------------------------------------------------------------------------------------

function usage () {
  process.stderr.write('usage: node btp.js server PORT TOKEN | node btp.js client URL COUNT [DATA_BYTES [INCOMING]]\n')
  process.exit(2)
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'server' && args.length === 2) {
  server(Number(args[0]), args[1])
} else if (mode === 'client' && args.length >= 2 && args.length <= 4) {
  client(args[0], Number(args[1]), args.length >= 3 ? Number(args[2]) : 32, args.length >= 4 ? Number(args[3]) : 0)
} else {
  usage()
}
