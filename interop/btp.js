#!/usr/bin/env node
// BTP side of the interop tests `interop/tests/btp.rs`: the JavaScript reference plugin
// `ilp-plugin-btp` (pinned in package.json, with `ilp-packet` for the ILP packets) as a BTP
// server or client, driven through stdin and stdout, one JSON object per line.
//
//   node btp.js server PORT TOKEN
//       An ilp-plugin-btp listener (`listener: { port: PORT, secret: TOKEN }`, one account, any
//       path; `responseTimeout` 5 s instead of 35 s, so that a Prepare it sends and never gets
//       an answer to shows within a test's time). Prints {"ready":true,"port":PORT} once
//       listening, then, as they happen,
//       {"event":"connect"} / {"event":"disconnect"} (a client authenticated / went away) and
//       {"held":N} (see below). Commands on stdin:
//         {"send":{"count":N,"dataBytes":B}}  sends N Prepares to the connected client (waits
//                                             up to 10 s for one to connect, unless "force":
//                                             true is given), prints a result line
//                                             {"result": ...} (convention.js's sendPrepares) with the
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
// Both modes answer incoming Prepares and send Prepares by the test convention (see
// convention.js); a Prepare whose data starts with "hold:" is never answered (the test uses
// it to have Prepares in flight); each one prints {"held":<how many so far>}.
'use strict'

const http = require('http')
const BtpPlugin = require('ilp-plugin-btp')
const { makeAnswerer, sendPrepares, print, exit, announce, serveCommands, main } = require('./convention')

const CONNECT_TIMEOUT_MS = 10000
const SEND_CONCURRENCY = 16
const VERBOSE = !!process.env.BTP_JS_DEBUG

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
// server PORT TOKEN

async function server (port, token) {
  const log = makeLog('btp-server')
  const httpServer = http.createServer()
  const plugin = new BtpPlugin({
    listener: { port, secret: token, wsOpts: { server: httpServer } },
    responseTimeout: 5000
  }, { log })
  const answerer = makeAnswerer({ hold: true })
  plugin.registerDataHandler(answerer.handler)
  let connected = false
  plugin.on('connect', () => { connected = true; print({ event: 'connect' }) })
  plugin.on('disconnect', () => { connected = false; print({ event: 'disconnect' }) })
  announce(httpServer, port)
  // connect() resolves when the first client has authenticated. A client refused before the
  // first good one makes it fail with "connection aborted"; the listener keeps listening and
  // the next good client connects (and emits 'connect').
  plugin.connect().catch((err) => print({ event: 'connect-failed', message: err.message }))

  const whenConnected = () => new Promise((resolve, reject) => {
    if (connected) return resolve()
    const timer = setTimeout(() => reject(new Error('no client connected within 10 s')), CONNECT_TIMEOUT_MS)
    plugin.once('connect', () => { clearTimeout(timer); resolve() })
  })

  serveCommands({
    send: async (send) => {
      if (!send.force) await whenConnected()
      const before = log.logged.length
      const result = await sendPrepares(plugin, send.count, {
        dataBytes: send.dataBytes || 0,
        concurrency: SEND_CONCURRENCY
      })
      result.logged = log.logged.slice(before, before + 20)
      print({ result })
    },
    stats: () => print({ stats: answerer.stats })
  }, () => plugin.disconnect())
}

// ------------------------------------------------------------------------------------------
// client URL COUNT [DATA_BYTES [INCOMING]]

async function client (url, count, dataBytes, incoming) {
  const log = makeLog('btp-client')
  const plugin = new BtpPlugin({ server: url }, { log })
  const answerer = makeAnswerer({ hold: true })
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
  const result = await sendPrepares(plugin, count, { dataBytes, concurrency: SEND_CONCURRENCY })
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

main('usage: node btp.js server PORT TOKEN | node btp.js client URL COUNT [DATA_BYTES [INCOMING]]\n', {
  server: (args) => args.length === 2 && server(Number(args[0]), args[1]),
  client: (args) => args.length >= 2 && args.length <= 4 &&
    client(args[0], Number(args[1]), args.length >= 3 ? Number(args[2]) : 32, args.length >= 4 ? Number(args[3]) : 0)
})
